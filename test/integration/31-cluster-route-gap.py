#!/usr/bin/env python3
"""Cluster: a message for a subscriber that moved while two nodes did not
hear each other is not answered "no matching subscribers" and lost.

Three nodes, every link through its own fault proxy. A persistent QoS 1
subscriber is on n3. The links between n1 and n2 are cut (both ways,
new ones refused); n1 and n3 still talk. The subscriber reconnects to
n2: n3 hands its session over and, after its make-before-break hold,
withdraws its route, which n1 hears. n2's route for the subscriber
cannot reach n1. A v5 publisher on n1 now sends a QoS 1 message: n1
knows no route for it, but n2's routes are in grace (its link is down)
and may hold one, so the message must be acknowledged with success and
wait for n2, not answered 0x10 and dropped. The cut heals, and the
subscriber must get the message, once. A second message, published once
everything is linked again, checks the way back to normal. (The other
uncertain state, n2's link back up with its route table not all in yet,
is too short a window to hit from a test.)"""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, log, main, tern_only  # noqa: E402
import mqttraw as raw  # noqa: E402
from faultcluster import FaultCluster  # noqa: E402
from storeutil import Publisher, Receiver  # noqa: E402

TOPIC = "gap/u/1"


def test():
    tern_only("a cluster of ternd nodes")
    with FaultCluster(3, tag="gap") as fc:
        check(fc.wait_links(20.0), "links up: %s" % fc.link_report())
        r = Receiver(fc.nodes[2].port, "gap-sub", version=raw.V5)
        r.connect(clean=False, expect_present=0)
        r.subscribe([(TOPIC, 1)])
        time.sleep(1.0)  # n3's route reaches n1 and n2
        cut = [fc.link(0, 1), fc.link(1, 0)]
        fc._each(cut, "partition")
        log("links between n1 and n2 cut")
        # The session moves from n3 to n2 (their link is up).
        r.port = fc.nodes[1].port
        r.connect(clean=False, expect_present=1)
        # n3 keeps its route 5 s after the move (make before break), then
        # withdraws it; n1 hears that, not n2's route.
        time.sleep(7.0)
        p = Publisher(fc.nodes[0].port, "gap-pub", version=raw.V5)
        reason = p.publish_one(TOPIC, b"during-the-cut", qos=1)
        log("PUBACK reason on n1 during the cut: %#x" % reason)
        check_eq(reason, 0, "PUBACK on n1 of a message for a subscriber "
                 "that moved to n2 while n1 did not hear n2")
        fc.heal()
        log("cut healed")
        check(fc.wait_links(20.0), "links up again: %s" % fc.link_report())
        r.run_until(lambda s: b"during-the-cut" in s.payloads(), 15.0,
                    "the message published during the cut, at the "
                    "subscriber on n2")
        reason = p.publish_one(TOPIC, b"after-the-cut", qos=1)
        check_eq(reason, 0, "PUBACK on n1 after the heal")
        r.run_until(lambda s: b"after-the-cut" in s.payloads(), 10.0,
                    "the message published after the heal")
        p.close()
        check_eq(r.payloads().count(b"during-the-cut"), 1,
                 "the message published during the cut, once")


main(test)
