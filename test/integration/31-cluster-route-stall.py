#!/usr/bin/env python3
"""Cluster: a node whose link to us has gone silent may have announced a
route we have not received: a message that matches nothing we know waits
for it instead of being answered "no matching subscribers" and dropped.

Three nodes, every link through its own fault proxy: P (n1), B (n2),
C (n3). The link B dials to C stalls (half-open: nothing passes, nothing
closes), so B's routes, pings and claims to C are held in it. P speaks
link protocol 1 (TERN_TEST_LINK_PROTO=1, as an older node), so it holds
its route for a moved session a fixed 5 s, not until B hands it over. A
persistent QoS 1 subscriber moves from P to B; B does not wait for C,
which it no longer hears, and P lets its route go after 5 s. C still
counts B's route table as current, yet it has not heard B for seconds. A v5
publisher on C now sends a QoS 1 message: it must be acknowledged with
success and go to B, not be answered 0x10 and lost. The stall ends, and
the subscriber gets the message, once."""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, log, main, tern_only  # noqa: E402
import mqttraw as raw  # noqa: E402
from faultcluster import FaultCluster  # noqa: E402
from storeutil import Publisher, Receiver  # noqa: E402

TOPIC = "stl/u/1"


def test():
    tern_only("a cluster of ternd nodes")
    with FaultCluster(3, tag="stl", log_level="debug") as fc:
        check(fc.wait_links(20.0), "links up: %s" % fc.link_report())
        fc.kill(0)
        os.environ["TERN_TEST_LINK_PROTO"] = "1"
        try:
            fc.start_node(0)
        finally:
            del os.environ["TERN_TEST_LINK_PROTO"]
        check(fc.wait_links(20.0), "links up again: %s" % fc.link_report())
        check("cluster link to n2 speaks protocol 1" in fc.nodes[0].log(),
              "P speaks link protocol 1")
        r = Receiver(fc.nodes[0].port, "stl-sub", version=raw.V5)
        r.connect(clean=False, expect_present=0)
        r.subscribe([(TOPIC, 1)])
        time.sleep(1.0)  # P's route reaches B and C
        p = Publisher(fc.nodes[2].port, "stl-pub", version=raw.V5)
        fc._each([fc.link(1, 2)], "stall")
        log("B -> C stalled")
        time.sleep(2.0)  # B no longer hears C, C no longer hears B
        r.port = fc.nodes[1].port
        r.connect(clean=False, expect_present=1)
        check(fc.wait_log(0, "session stl-sub moved to n2", 5.0),
              "the session left P for B")
        # P's route goes 5 s after the move; C hears that, not B's
        # route.
        time.sleep(6.0)
        reason = p.publish_one(TOPIC, b"during-the-stall", qos=1)
        log("PUBACK reason on C during the stall: %#x" % reason)
        check_eq(reason, 0, "PUBACK on C of a message for a subscriber "
                 "that moved to B while B's link to C was stalled")
        fc.heal()
        log("stall ended")
        check(fc.wait_links(20.0), "links up again: %s" % fc.link_report())
        r.run_until(lambda s: b"during-the-stall" in s.payloads(), 20.0,
                    "the message published during the stall")
        reason = p.publish_one(TOPIC, b"after-the-stall", qos=1)
        check_eq(reason, 0, "PUBACK on C after the stall")
        r.run_until(lambda s: b"after-the-stall" in s.payloads(), 20.0,
                    "the message published after the stall")
        p.close()
        check_eq(r.payloads().count(b"during-the-stall"), 1,
                 "the message published during the stall, once")


main(test)
