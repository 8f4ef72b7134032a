#!/usr/bin/env python3
"""Presence on a 3-node cluster (presence_topic im/p/%c, presence_debounce
3), each node link through a fault proxy.

A. alice (v5, persistent, user alice-user) connects to n1: a watcher on
   n3 gets her online, naming n1, with its order ("$tern/presence").
B. She leaves n1 (DISCONNECT) and connects to n2 within the debounce: the
   watcher gets an online naming n2, later in order, and no offline ever
   (n1's offline was waiting; n2's claim took it up). Every node holds
   the online of n2, retained.
C. She connects to n3 while her connection to n2 is still open (n2's is
   taken over): an online naming n3, and no offline.
D. n3 is cut off from the others; her socket to n3 drops, and she
   connects to n1 (n3 does not answer the claim). After the debounce n3
   publishes her offline, on its own side of the partition. The
   partition heals: n3's offline reaches n1 and n2 after n1's online,
   which is later in order: it is dropped there, and n1's online
   replaces the offline on n3. A watcher on n1 sees no offline; every
   node holds the online of n1.
E. n1 is killed (kill -9) while she is on it; she connects to n3; n1
   starts again: it holds her online of n1, retained, but the online of
   n3 is later: n1 publishes no offline ("restart"), or one every other
   node drops; a watcher on n2 sees none.
F. n3 is killed while she is on it, and starts again; she stays away:
   after the debounce, n3 publishes her offline, reason "restart", its
   order just after her online's."""
import json
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, log, main, tern_only  # noqa: E402
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402
from faultcluster import FaultCluster  # noqa: E402
from v5util import recv_or_none  # noqa: E402

DEBOUNCE = 3
PERSIST = {"session_expiry_interval": 3600}
TOPIC = "im/p/alice"


def presence(w, status, node, what, timeout=10.0):
    """The next presence message on w: its payload and order."""
    p = w.expect(raw.PUBLISH, timeout=timeout, what=what)
    w.ack(p)
    check_eq(p.topic, TOPIC, "%s: topic" % what)
    j = json.loads(p.payload.decode())
    check_eq((j["status"], j["client_id"], j["user"], j["node"]),
             (status, "alice", "alice-user", node), "%s: values" % what)
    up = dict(p.props.get("user_property", []))
    check("$tern/presence" in up, "%s: its order: %r" % (what, up))
    return j, int(up["$tern/presence"])


def quiet(w, what, t):
    deadline = time.monotonic() + t
    while time.monotonic() < deadline:
        p = recv_or_none(w, max(0.05, deadline - time.monotonic()))
        if p is None:
            continue
        if p.type == raw.PUBLISH:
            w.ack(p)
        check(p.type != raw.PUBLISH, "%s: nothing published, got %r" %
              (what, (p.topic, p.payload)))


def retained_everywhere(fc, node, what, status="online"):
    """A new subscriber on each node gets the presence (status) naming
    node."""
    for k in range(3):
        c = raw.Client(fc.nodes[k].port, version=V5)
        c.connect("late-%d" % k)
        c.subscribe(TOPIC, qos=1)
        p = c.expect(raw.PUBLISH, timeout=5.0,
                     what="%s: retained on n%d" % (what, k + 1))
        j = json.loads(p.payload.decode())
        check_eq((j["status"], j["node"], p.retain), (status, node, 1),
                 "%s: retained on n%d" % (what, k + 1))
        c.disconnect()


def alice(fc, k):
    c = raw.Client(fc.nodes[k].port, version=V5)
    c.connect("alice", clean=False, username="alice-user",
              properties=PERSIST)
    return c


def test():
    tern_only("presence_topic")
    conf = ["presence_topic im/p/%c", "presence_debounce %d" % DEBOUNCE]
    with FaultCluster(3, conf=conf, tag="icp") as fc:
        check(fc.wait_links(20.0), "links up: %s" % fc.link_report())
        w3 = raw.Client(fc.nodes[2].port, version=V5)
        w3.connect("watch-3")
        w3.subscribe("im/p/#", qos=1)
        w1 = raw.Client(fc.nodes[0].port, version=V5)
        w1.connect("watch-1")
        w1.subscribe("im/p/#", qos=1)
        time.sleep(0.5)  # the watchers' routes reach every node

        # A
        a = alice(fc, 0)
        _, o1 = presence(w3, "online", "n1", "A: online on n1")
        presence(w1, "online", "n1", "A: online on n1, watcher on n1")

        # B
        a.disconnect()
        time.sleep(1.0)
        a = alice(fc, 1)
        _, o2 = presence(w3, "online", "n2", "B: online on n2")
        check(o2 > o1, "B: the later online is later in order: %d, %d" %
              (o1, o2))
        presence(w1, "online", "n2", "B: online on n2, watcher on n1")
        quiet(w3, "B: no offline after the move", DEBOUNCE + 2.0)
        retained_everywhere(fc, "n2", "B")
        w1.expect_none(0.2)

        # C
        old = a
        a = alice(fc, 2)
        _, o3 = presence(w3, "online", "n3", "C: online on n3")
        check(o3 > o2, "C: later in order: %d, %d" % (o2, o3))
        presence(w1, "online", "n3", "C: online on n3, watcher on n1")
        old.close()
        quiet(w1, "C: no offline after the takeover", DEBOUNCE + 2.0)
        w3.close()

        # D
        fc.partition(2)
        log("n3 cut off")
        a.abort()
        time.sleep(0.5)
        a = alice(fc, 0)
        _, o4 = presence(w1, "online", "n1", "D: online on n1")
        check(o4 > o3, "D: later in order: %d, %d" % (o3, o4))
        check(fc.wait_log(2, "presence of alice: offline", DEBOUNCE + 5.0),
              "D: n3 published her offline on its side")
        fc.heal()
        check(fc.wait_links(20.0), "D: links up again: %s" %
              fc.link_report())
        quiet(w1, "D: the late offline of n3 is not delivered", 3.0)
        retained_everywhere(fc, "n1", "D")
        w1.disconnect()

        # E
        w2 = raw.Client(fc.nodes[1].port, version=V5)
        w2.connect("watch-2")
        w2.subscribe("im/p/#", qos=1)
        presence(w2, "online", "n1", "E: retained online of n1")
        fc.kill(0)
        a.close()
        log("n1 killed")
        a = alice(fc, 2)
        _, o5 = presence(w2, "online", "n3", "E: online on n3")
        check(o5 > o4, "E: later in order: %d, %d" % (o4, o5))
        fc.start_node(0)
        check(fc.wait_links(20.0), "E: links up again: %s" %
              fc.link_report())
        quiet(w2, "E: no offline from the restarted n1", DEBOUNCE + 3.0)
        retained_everywhere(fc, "n3", "E")

        # F
        fc.kill(2)
        a.close()
        log("n3 killed")
        fc.start_node(2)
        check(fc.wait_links(20.0), "F: links up again: %s" %
              fc.link_report())
        j, o6 = presence(w2, "offline", "n3", "F: offline after n3's "
                         "restart", timeout=DEBOUNCE + 15.0)
        check_eq(j["reason"], "restart", "F: reason")
        check_eq(o6, o5 + 1, "F: its order follows the online's")
        retained_everywhere(fc, "n3", "F", status="offline")
        w2.disconnect()


main(test)
