#!/usr/bin/env python3
"""ternd refuses to start, with exit status 1 and a message that names
the cluster key, the file and the reason, when the cluster's TLS keys are
incomplete (cluster_certfile without cluster_keyfile or cluster_cafile,
or the reverse), name a missing or unparsable file, a key that does not
match the certificate, or come without node_name / cluster_listener. The
complete set starts."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import tlsutil  # noqa: E402
from cluster import SECRET  # noqa: E402

_n = [0]


def refused(lines, want, what):
    _n[0] += 1
    conf = tmp_path("bad%d.conf" % _n[0])
    with open(conf, "w") as f:
        f.write("\n".join(["listener 0 %s" % HOST] + lines) + "\n")
    r = run_ternd(["-c", conf, "-d", tmp_path("data%d" % _n[0])])
    check_eq(r.rc, 1, "%s: exit status (stderr %r)" % (what, r.err))
    check(want in r.err, "%s: %r in %r" % (what, want, r.err))
    for bad in ("runtime error", "Sanitizer"):
        check(bad not in r.err, "%s: sanitizer report: %r" % (what, r.err))
    log("%s: %s" % (what, r.err.strip().splitlines()[-1]))


def test():
    tern_only("cluster TLS keys")
    ca = tlsutil.CA()
    crt, key, _ = ca.issue("n1", "n1", node=True)
    crt2, key2, _ = ca.issue("n2", "n2", node=True)
    missing = tmp_path("nonexistent.crt")
    garbage = tmp_path("garbage.crt")
    with open(garbage, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n"
                "-----END CERTIFICATE-----\n")
    node = ["node_name n1", "cluster_listener %s:%d" % (HOST, free_port()),
            "cluster_secret %s" % SECRET]
    C, K, A = ("cluster_certfile %s" % crt, "cluster_keyfile %s" % key,
               "cluster_cafile %s" % ca.crt)

    refused(node + [C, A], "cluster links: cluster_certfile, "
            "cluster_keyfile and cluster_cafile go together "
            "(cluster_keyfile is missing)", "certfile without keyfile")
    refused(node + [C, K], "(cluster_cafile is missing)",
            "certfile and keyfile without cafile")
    refused(node + [K, A], "(cluster_certfile is missing)",
            "keyfile and cafile without certfile")
    refused(node + [A], "(cluster_certfile is missing)", "cafile alone")
    refused(node + ["cluster_certfile %s" % missing, K, A],
            "cluster links: cluster_certfile %s: No such file or directory"
            % missing, "missing certfile")
    refused(node + [C, "cluster_keyfile %s" % key2, A],
            "cluster links: cluster_keyfile %s does not match "
            "cluster_certfile %s" % (key2, crt), "key of another node")
    refused(node + [C, K, "cluster_cafile %s" % garbage],
            "cluster links: cluster_cafile %s: " % garbage, "garbage CA")
    refused([C, K, A], "cluster links: cluster_certfile needs node_name "
            "and cluster_listener", "TLS keys without a cluster")

    # the complete set starts, and says the cluster listener speaks TLS
    with Broker(conf=node + [C, K, A]) as b:
        b.wait_log("cluster node n1")
        check("port %d (cluster links, mutual TLS)" % int(
              node[1].rsplit(":", 1)[1]) in b.log(),
              "the cluster listener is logged as mutual TLS")


main(test)
