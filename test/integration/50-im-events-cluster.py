#!/usr/bin/env python3
"""$events/ on a 3-node cluster, under one ACL (backend reads
$events/#).

A. backend subscribes to $events/# on n1; dave (v5, persistent) connects
   to n3: backend gets n3's connected event, "node":"n3", dave's
   address as peer, once.
B. dave connects to n2 while his connection to n3 is open: from n3,
   taken_over ("node":"n3", the old peer, new_peer null, new_node "n2")
   and disconnected (reason taken_over); from n2, connected with
   session_present true. Nothing else, and each once.
C. dave sends DISCONNECT on n2: disconnected from n2."""
import json
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, main, tern_only  # noqa: E402
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402
from authutil import acl_file  # noqa: E402
from cluster import Cluster  # noqa: E402
from v5util import recv_or_none  # noqa: E402

ACL = """user backend
topic read $events/#
"""
PERSIST = {"session_expiry_interval": 600}


def events(be, n, what, timeout=10.0):
    """The next n events backend gets, as JSON."""
    got = []
    for i in range(n):
        p = be.expect(raw.PUBLISH, timeout=timeout,
                      what="%s (%d of %d)" % (what, i + 1, n))
        be.ack(p)
        check_eq(p.props.get("content_type"), "application/json",
                 "%s: content type" % what)
        j = json.loads(p.payload.decode())
        check(p.topic.endswith("/" + j["event"]),
              "%s: topic %s for %s" % (what, p.topic, j["event"]))
        got.append(j)
    return got


def addr(c):
    return "%s:%d" % c.sock.getsockname()[:2]


def quiet(be, what):
    p = recv_or_none(be, 1.5)
    check(p is None, "%s: nothing more, got %r" %
          (what, p and (p.topic, p.payload)))


def test():
    tern_only("$events/ in a cluster")
    acl = acl_file(ACL)
    with Cluster(3, conf=["acl_file %s" % acl]) as cl:
        be = raw.Client(cl[0].port, version=V5)
        be.connect("backend", username="backend")
        check_eq(be.subscribe("$events/#", qos=1).codes, [1],
                 "backend's subscription on n1")

        # A
        d3 = raw.Client(cl[2].port, version=V5)
        d3.connect("dave", clean=False, username="dave", properties=PERSIST)
        (j,) = events(be, 1, "A: dave on n3")
        check_eq((j["event"], j["node"], j["client_id"], j["user"],
                  j["peer"], j["session_present"]),
                 ("connected", "n3", "dave", "dave", addr(d3), False),
                 "A: n3's connected, on n1")
        quiet(be, "A")

        # B
        d2 = raw.Client(cl[1].port, version=V5)
        d2.connect("dave", clean=False, username="dave", properties=PERSIST)
        got = {(j["event"], j["node"]): j for j in
               events(be, 3, "B: takeover from n2")}
        check_eq(sorted(got), [("connected", "n2"), ("disconnected", "n3"),
                               ("taken_over", "n3")], "B: the events")
        t = got[("taken_over", "n3")]
        check_eq((t["client_id"], t["user"], t["peer"], t["new_peer"],
                  t["new_node"]), ("dave", "dave", addr(d3), None, "n2"),
                 "B: taken_over, told by the old node")
        check_eq(got[("disconnected", "n3")]["reason"], "taken_over",
                 "B: the old connection's reason")
        c = got[("connected", "n2")]
        check_eq((c["peer"], c["session_present"]), (addr(d2), True),
                 "B: the new connection, its session moved")
        quiet(be, "B")
        d3.close()

        # C
        d2.disconnect()
        (j,) = events(be, 1, "C: dave leaves n2")
        check_eq((j["event"], j["node"], j["reason"]),
                 ("disconnected", "n2", "disconnect"), "C: disconnected")
        be.disconnect()


main(test)
