#!/usr/bin/env python3
"""ternd refuses to start, with exit status 1 and a message naming the
listener, the file and the reason, when a TLS listener's certificate or
key is missing, unreadable, not a certificate, or does not match, when
keyfile or the CA for require_certificate is missing, and when a TLS key
comes before any listener line (FILE:LINE)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import tlsutil  # noqa: E402

_n = [0]


def refused(lines, want, what):
    _n[0] += 1
    conf = tmp_path("bad%d.conf" % _n[0])
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    r = run_ternd(["-c", conf, "-d", tmp_path("data%d" % _n[0])])
    check_eq(r.rc, 1, "%s: exit status (stderr %r)" % (what, r.err))
    check(want in r.err, "%s: %r in %r" % (what, want, r.err))
    check("ready" not in r.err, "%s: never got ready" % what)
    for bad in ("runtime error", "Sanitizer"):
        check(bad not in r.err, "%s: sanitizer report: %r" % (what, r.err))
    log("%s: %s" % (what, r.err.strip().splitlines()[-1]))


def test():
    tern_only("TLS listener keys")
    ca = tlsutil.CA()
    crt, key, _ = ca.issue("server", HOST)
    crt2, key2, _ = ca.issue("server2", HOST)
    missing = tmp_path("nonexistent.crt")
    garbage = tmp_path("garbage.crt")
    with open(garbage, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n"
                "-----END CERTIFICATE-----\n")
    unreadable = tmp_path("unreadable.key")
    with open(unreadable, "w") as f:
        f.write(open(key).read())
    os.chmod(unreadable, 0)
    head = ["listener 0 %s" % HOST, "listener 0 %s" % HOST]

    refused(head + ["certfile %s" % missing, "keyfile %s" % key],
            "listener 2 (port 0): certfile %s: No such file or directory"
            % missing, "missing certfile")
    refused(head + ["certfile %s" % garbage, "keyfile %s" % key],
            "listener 2 (port 0): certfile %s: PEM - " % garbage,
            "garbage certfile")
    refused(head + ["certfile %s" % crt, "keyfile %s" % key2],
            "listener 2 (port 0): keyfile %s does not match certfile %s"
            % (key2, crt), "key of another certificate")
    refused(head + ["certfile %s" % crt, "keyfile %s" % crt],
            "listener 2 (port 0): keyfile %s: PK - " % crt,
            "certificate given as key")
    refused(head + ["certfile %s" % crt],
            "listener 2 (port 0): certfile given without keyfile",
            "no keyfile")
    refused(head + ["keyfile %s" % key],
            "listener 2 (port 0): TLS keys given without certfile",
            "keyfile without certfile")
    refused(head + ["certfile %s" % crt, "keyfile %s" % key,
                    "require_certificate true"],
            "require_certificate needs cafile or capath",
            "require_certificate without a CA")
    refused(head + ["certfile %s" % crt, "keyfile %s" % key,
                    "use_identity_as_username true"],
            "use_identity_as_username needs require_certificate true",
            "use_identity_as_username without client certificates")
    refused(head + ["certfile %s" % crt, "keyfile %s" % key,
                    "ciphers AES128-SHA"],
            "ciphers: 'AES128-SHA' is not one of the allowed suites",
            "an old cipher suite")
    refused(["certfile %s" % crt, "listener 0 %s" % HOST],
            "bad%d.conf:1: certfile must follow a listener line"
            % (_n[0] + 1), "certfile before any listener")
    if os.geteuid() != 0:
        refused(head + ["certfile %s" % crt, "keyfile %s" % unreadable],
                "keyfile %s: Permission denied" % unreadable,
                "unreadable keyfile")
    else:
        log("running as root: the unreadable keyfile case is skipped")

    # And the good files do start.
    with Broker(conf=tlsutil.listener_conf(crt, key)):
        pass


main(test)
