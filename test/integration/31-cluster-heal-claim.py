#!/usr/bin/env python3
"""Cluster: a client that connects right after a partition heals, before
the node links have come back on their own, gets its session merged, not
the stale copy of it with what it had already.

Three nodes, each link through its own fault proxy. A persistent QoS 2
subscriber (v5) leaves its session on n2, and n2 is cut off. The
subscriber connects to n3, which makes a second copy (n2 does not
answer). A QoS 2 message M is published on n1: n1 delivers it through n3
(the subscriber completes the flow) and queues it for n2, whose route is
in grace. Eight seconds on, n2's dials back off to 5 s. The links
between n1 and n2 heal first (n1 gives M to n2's copy); then those
between n2 and n3, and at once the subscriber connects to n2. n2's link
to n3 is still in its backoff, its last dial failed a moment ago: n2
must dial it now and claim n3's copy,
so that the merge knows M was delivered, rather than resume its own copy
alone and deliver M a second time."""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, log, main, tern_only  # noqa: E402
import mqttraw as raw  # noqa: E402
from faultcluster import FaultCluster, drain_quiet  # noqa: E402
from storeutil import Publisher, Receiver  # noqa: E402

TOPIC = "hc/u/1"


def wait_for(cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test():
    tern_only("a cluster of ternd nodes")
    with FaultCluster(3, tag="hc", log_level="debug") as fc:
        check(fc.wait_links(20.0), "links up: %s" % fc.link_report())
        r = Receiver(fc.nodes[1].port, "hc-sub", version=raw.V5)
        r.connect(clean=False, expect_present=0)
        r.subscribe([(TOPIC, 2)])
        r.c.disconnect()
        r.c = None
        time.sleep(0.5)  # n2's route reaches n1 and n3
        p = Publisher(fc.nodes[0].port, "hc-pub", version=raw.V5)
        fc.partition(1)
        log("n2 cut off")
        time.sleep(0.5)
        r.port = fc.nodes[2].port
        r.connect(clean=False, expect_present=0)
        r.subscribe([(TOPIC, 2)])
        time.sleep(0.5)  # n3's route reaches n1
        check_eq(p.publish_one(TOPIC, b"M", qos=2), 0, "PUBREC of M on n1")
        r.wait_payload(b"M", 10.0)
        r.c.disconnect()
        r.c = None
        log("M delivered through n3; n1 holds it for n2")
        time.sleep(8.0)  # n2's dials back off to 5 s
        fc._each([fc.link(0, 1), fc.link(1, 0)], "heal")
        # n1 and n2 link again (a dial on either side, then the other
        # dials back at once), and n1's queue gives M to n2's copy.
        check(wait_for(lambda: fc.link_up(0, 1) and fc.link_up(1, 0),
                       15.0),
              "n1 and n2 linked again: %s" % fc.link_report())
        check(not fc.link_up(1, 2) and not fc.link_up(2, 1),
              "n2 and n3 not linked yet: %s" % fc.link_report())
        # The heal comes just after one of n2's dials to n3 failed: a
        # CONNECT then must still wait for the next dial, not find the
        # last one too recent to repeat and give up on n3.
        label = fc.expected_label(1, 2)

        def dials_failed():
            return sum(1 for line in fc.nodes[1].log().splitlines()
                       if label + ": " in line or
                       "link to %s failed" % label in line)
        before = dials_failed()
        check(wait_for(lambda: dials_failed() > before, 8.0),
              "n2 dialled n3 and failed again")
        fc._each([fc.link(1, 2), fc.link(2, 1)], "heal")
        r.port = fc.nodes[1].port
        r.connect(clean=False, expect_present=1)
        log("connected to n2 right after the heal")
        drain_quiet(r, quiet=2.5, bound=15.0)
        p.close()
        log("delivered: %r" % r.payloads())
        check_eq(r.payloads().count(b"M"), 1, "M delivered once")
        check(not r.dups, "no QoS 2 duplicates: %r" % r.dups)
        check(not r.awaiting_rel, "every QoS 2 flow released")


main(test)
