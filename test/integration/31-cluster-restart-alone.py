#!/usr/bin/env python3
"""Cluster: a node restarted while it cannot reach the others does not
answer "no matching subscribers" for a subscriber another node may hold.

Two nodes, each link through its own fault proxy. A persistent QoS 1
subscriber is on n2, and n1 has forwarded it a message (so n1's store
knows n2). n1 is killed, n2 is cut off, and n1 starts again: it cannot
link to n2, so it knows none of n2's routes, and takes clients after
cluster_sync_timeout. A v5 publisher on n1 sends a QoS 1 message for the
subscriber: n1 must acknowledge it with success and keep it for n2 (n2's
routes are unknown, within cluster_route_grace), not answer 0x10 and
drop it. The cut heals, and the subscriber gets the message, once."""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, log, main, tern_only  # noqa: E402
import mqttraw as raw  # noqa: E402
from faultcluster import FaultCluster  # noqa: E402
from storeutil import Publisher, Receiver  # noqa: E402

TOPIC = "ra/u/1"


def test():
    tern_only("a cluster of ternd nodes")
    with FaultCluster(2, tag="ra") as fc:
        check(fc.wait_links(20.0), "links up: %s" % fc.link_report())
        r = Receiver(fc.nodes[1].port, "ra-sub", version=raw.V5)
        r.connect(clean=False, expect_present=0)
        r.subscribe([(TOPIC, 1)])
        time.sleep(0.5)  # n2's route reaches n1
        p = Publisher(fc.nodes[0].port, "ra-pub", version=raw.V5)
        check_eq(p.publish_one(TOPIC, b"before", qos=1), 0,
                 "PUBACK on n1 before the restart")
        r.run_until(lambda s: b"before" in s.payloads(), 10.0,
                    "the message published before the restart")
        p.close()
        fc.kill(0)
        fc.partition(1)
        log("n1 killed, n2 cut off")
        fc.start_node(0)
        log("n1 started again, alone")
        # It takes clients after cluster_sync_timeout (2 s).
        deadline = time.monotonic() + 20.0
        p = None
        while p is None and time.monotonic() < deadline:
            try:
                p = Publisher(fc.nodes[0].port, "ra-pub", version=raw.V5)
            except (AssertionError, OSError):
                time.sleep(0.5)
        check(p is not None, "n1 takes clients again")
        reason = p.publish_one(TOPIC, b"after", qos=1)
        log("PUBACK reason on n1, alone after its restart: %#x" % reason)
        check_eq(reason, 0, "PUBACK on n1 of a message for a subscriber on "
                 "n2, which n1 has not heard since its restart")
        fc.heal()
        log("cut healed")
        check(fc.wait_links(20.0), "links up again: %s" % fc.link_report())
        r.run_until(lambda s: b"after" in s.payloads(), 20.0,
                    "the message published while n1 was alone")
        p.close()
        check_eq(r.payloads().count(b"after"), 1, "that message, once")


main(test)
