#!/usr/bin/env python3
"""Cluster: only nodes with the cluster_secret link, and the cluster
listener takes node links only.

- n3 has another cluster_secret: n1 and n2 link to each other, refuse n3
  ("wrong cluster_secret" in their logs; n3 refuses them the same way),
  and no message crosses between n3 and the others either way, while
  n1 <-> n2 works.
- A client that is not a link, on n1's cluster listener: CONNACK 0x87
  (5.0) / 5 (3.1.1). A link CONNECT ("$cluster/<name>") with a wrong
  password there: 0x86.
- On the client listener, client ids starting with "$cluster/" or
  "$peer/" are refused: 0x85 (5.0) / 2 (3.1.1)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, main  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import Cluster  # noqa: E402
from storeutil import Receiver  # noqa: E402

WRONG = "cluster_secret"


def link_count(b, frm):
    return b.log().count("cluster link from %s " % frm)


def refused(port, client_id, version, rc, what, **kw):
    c = raw.Client(port, version=version)
    ack = c.connect(client_id, rc=None, **kw)
    check_eq(ack.reason, rc, "%s: CONNACK reason" % what)
    got = c.wait_closed(5.0)
    check(all(p.type == raw.DISCONNECT for p in got),
          "%s: packets after the CONNACK %r" % (what, got))
    c.close()


def test():
    with Cluster(3, secrets={"n3": "not-the-cluster-secret"},
                 start=False) as cl:
        for b in cl.nodes:
            b.start()
        cl.wait_links(nodes=[0, 1], among=[0, 1])
        for i in (0, 1):
            cl[i].wait_log("refused: wrong cluster_secret", timeout=15.0)
        cl[2].wait_log("refused: wrong cluster_secret", timeout=15.0)
        for i in (0, 1):
            check("n3" not in cl.links_up(i), "n%d: link to n3 up" % (i + 1))
            check("cluster link from n3" not in cl[i].log(),
                  "n%d: a link from n3 came up" % (i + 1))
        check_eq(cl.links_up(2), set(), "n3's links up")

        # subscribers on every node; publish on each node in turn
        subs = []
        for i in range(3):
            r = Receiver(cl[i].port, "bs-sub-%d" % (i + 1), version=raw.V5)
            r.connect(clean=True)
            r.subscribe([("bs/#", 1)])
            subs.append(r)
        for src in range(3):
            p = raw.Client(cl[src].port, version=raw.V311)
            p.connect("bs-pub-%d" % (src + 1))
            p.publish("bs/from/%d" % (src + 1), b"from-n%d" % (src + 1),
                      qos=1)
            p.disconnect()
        # n1 and n2 get the messages of n1 and n2; n3 only its own. The
        # last message published on each node arrives after the others.
        for i, want in ((0, [b"from-n1", b"from-n2"]),
                        (1, [b"from-n1", b"from-n2"]),
                        (2, [b"from-n3"])):
            got = subs[i].receive_n(len(want), timeout=15.0)
            check_eq(sorted(d[1] for d in got), want,
                     "messages at the subscriber on n%d" % (i + 1))
        # from-n3 must not reach n1/n2 (nor n1/n2's reach n3): a marker
        # published on n2 comes next at n1 and n2
        p = raw.Client(cl[1].port, version=raw.V311)
        p.connect("bs-marker")
        p.publish("bs/marker", b"marker", qos=1)
        p.disconnect()
        for i in (0, 1):
            got = subs[i].receive_n(1, timeout=15.0)
            check_eq(got[0][1], b"marker", "next message at n%d" % (i + 1))
        subs[2].expect_quiet(1.0)
        for r in subs:
            r.disconnect()

        # the cluster listener of n1 takes links only
        cport = cl.cports[0]
        refused(cport, "plain-client", raw.V5, 0x87,
                "5.0 client on the cluster listener")
        refused(cport, "plain-client", raw.V311, 5,
                "3.1.1 client on the cluster listener")
        refused(cport, "$cluster/n9", raw.V5, 0x86,
                "link CONNECT with a wrong password",
                password=b"wrong", properties={"user_property": [
                    ("tern-node", "n9"), ("tern-proto", "1")]})
        # after wrong secrets from this address it is answered only
        # after a delay (1 s, then 2 s: 40-auth-cluster-secret.py), well
        # within refused()'s 5 s
        refused(cport, "$cluster/n9", raw.V5, 0x86,
                "link CONNECT without a password")
        check("cluster link from n9" not in cl[0].log(),
              "n1: a link from n9 came up")

        # link ids on the client listener
        for cid in ("$cluster/n2", "$cluster/x", "$peer/n2"):
            refused(cl[0].port, cid, raw.V5, 0x85,
                    "5.0 client id %r on the client listener" % cid)
            refused(cl[0].port, cid, raw.V311, 2,
                    "3.1.1 client id %r on the client listener" % cid)

        # n1 and n2 still linked, n1 still serves
        cl.wait_links(nodes=[0, 1], among=[0, 1])
        r = Receiver(cl[1].port, "bs-after", version=raw.V5)
        r.connect(clean=True)
        r.subscribe([("bs/after", 1)])
        p = raw.Client(cl[0].port, version=raw.V5)
        p.connect("bs-after-pub")
        p.publish("bs/after", b"after", qos=1)
        p.disconnect()
        check_eq(r.receive_n(1, timeout=15.0)[0][1], b"after",
                 "n1 -> n2 after the refused connections")
        r.disconnect()


main(test)
