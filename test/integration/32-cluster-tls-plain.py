#!/usr/bin/env python3
"""Cluster links: a node without cluster TLS keys and nodes with them do
not link, either way, and each end logs why.

n1 and n2 have cluster_certfile/keyfile/cafile, n3 has none.
- n1 and n2 link; n3 links to no one and no one to n3.
- n3 dialling n1 (plaintext to a TLS listener): n1 logs that the peer
  does not speak TLS (plaintext MQTT); n3 that n1 closed before its
  CONNACK, asking whether n1's listener wants TLS.
- n1 dialling n3 (TLS to a plaintext listener): n3 logs a TLS handshake
  on its cluster listener, which has no cluster_certfile; n1 that the
  link failed.
- No message crosses between n3 and n1/n2."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import HOST, check, check_eq, log, main, wait_for  # noqa: E402
import mqttraw as raw  # noqa: E402
import tlsutil  # noqa: E402
from cluster import Cluster  # noqa: E402
from storeutil import Receiver  # noqa: E402


def wait_warning(b, text, what, timeout=15.0):
    def lines():
        return [ln for ln in b.log().splitlines()
                if text in ln and " warning: " in ln]
    wait_for(lines, timeout, what)
    log("%s: %s" % (what, lines()[0]))


def test():
    ca = tlsutil.CA()
    node_conf = {}
    for name in ("n1", "n2"):
        crt, key, _ = ca.issue(name, name, node=True)
        node_conf[name] = tlsutil.cluster_conf(crt, key, ca.crt)
    with Cluster(3, node_conf=node_conf, start=False) as cl:
        for b in cl.nodes:
            b.start()
        cl.wait_links(nodes=[0, 1], among=[0, 1])
        p = cl.cports
        wait_warning(cl[0], "cluster link from %s:" % HOST,
                     "n1 refuses the plaintext dialler")
        wait_warning(cl[0], "the peer does not speak TLS: first byte "
                     "0x10, plaintext MQTT", "n1 says it was plaintext")
        wait_warning(cl[2], "cluster link to %s:%d failed: connection "
                     "closed by peer (before its CONNACK: does its cluster "
                     "listener want TLS" % (HOST, p[0]),
                     "n3 says n1 closed before its CONNACK")
        wait_warning(cl[2], "failed: TLS handshake on the cluster "
                     "listener, which has no cluster_certfile",
                     "n3 refuses the TLS dialler")
        wait_warning(cl[0], "cluster link to %s:%d failed: "
                     % (HOST, p[2]), "n1 says its link to n3 failed")

        for i in range(3):
            for j in range(3):
                if i != j and (i == 2 or j == 2):
                    check("cluster link from n%d " % (j + 1)
                          not in cl[i].log(), "n%d: a link from n%d came "
                          "up" % (i + 1, j + 1))
        check_eq(cl.links_up(2), set(), "n3's links up")
        for i in (0, 1):
            check("n3" not in cl.links_up(i), "n%d: link to n3 up"
                  % (i + 1))

        subs = []
        for i in range(3):
            r = Receiver(cl[i].port, "tp-sub-%d" % (i + 1), version=raw.V5)
            r.connect(clean=True)
            r.subscribe([("tp/#", 1)])
            subs.append(r)
        for src in range(3):
            c = raw.Client(cl[src].port, version=raw.V5)
            c.connect("tp-pub-%d" % (src + 1))
            c.publish("tp/from/%d" % (src + 1), b"from-n%d" % (src + 1),
                      qos=1)
            c.disconnect()
        for i, want in ((0, [b"from-n1", b"from-n2"]),
                        (1, [b"from-n1", b"from-n2"]),
                        (2, [b"from-n3"])):
            got = subs[i].receive_n(len(want), timeout=15.0)
            check_eq(sorted(d[1] for d in got), want,
                     "messages at the subscriber on n%d" % (i + 1))
        c = raw.Client(cl[1].port, version=raw.V5)
        c.connect("tp-marker")
        c.publish("tp/marker", b"marker", qos=1)
        c.disconnect()
        for i in (0, 1):
            got = subs[i].receive_n(1, timeout=15.0)
            check_eq(got[0][1], b"marker", "next message at n%d" % (i + 1))
        subs[2].expect_quiet(1.0)
        for r in subs:
            r.disconnect()


main(test)
