#!/usr/bin/env python3
"""Cluster: make before break. After a session moves, the node it left
keeps its route for it until every other node has applied the new node's
route, however long that takes.

Three nodes, every link through its own fault proxy: P (n1), B (n2),
C (n3). The link B dials to C gets 6 s of latency (both ways): what B
sends C (its routes, its claims) arrives 6 s late, but arrives: both ends
go on hearing each other. A persistent QoS 1 subscriber moves from P to
B. B's route for it reaches C 6 s later. A v5 publisher on C sends a
QoS 1 message 5.5 s after the move: C knows no route of B's yet, so P
must still hold its own (and pass the message on to B), not have dropped
it after a fixed delay, which left C answering 0x10 (no matching
subscribers) and dropping the message. The subscriber gets it, once, and
P's log shows that B handed the route over."""
import os
import sys
import threading
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, log, main, tern_only  # noqa: E402
import mqttraw as raw  # noqa: E402
from faultcluster import FaultCluster  # noqa: E402
from storeutil import Publisher, Receiver, session_props  # noqa: E402

TOPIC = "mbb/u/1"
LATENCY_MS = 6000


def test():
    tern_only("a cluster of ternd nodes")
    # The claim to C takes 6 s: CONNECTs wait for it.
    with FaultCluster(3, tag="mbb", log_level="debug",
                      sync_timeout=15000) as fc:
        check(fc.wait_links(20.0), "links up: %s" % fc.link_report())
        r = Receiver(fc.nodes[0].port, "mbb-sub", version=raw.V5)
        r.connect(clean=False, expect_present=0)
        r.subscribe([(TOPIC, 1)])
        time.sleep(1.0)  # P's route reaches B and C
        # (Before the latency: its claim's answer would come 6 s late.)
        p = Publisher(fc.nodes[2].port, "mbb-pub", version=raw.V5)
        fc._each([fc.link(1, 2)], "latency %d" % LATENCY_MS)
        log("B -> C: %d ms latency; waiting for the link to flow again"
            % LATENCY_MS)
        # B's pings (every 0.5 s) reach C, and C's answers B, steadily
        # again after one round trip: both count as live.
        time.sleep(2 * LATENCY_MS / 1000.0 + 1.5)
        r.port = fc.nodes[1].port
        err = []

        def reconnect():
            # A CONNACK that waits for C's answer to the claim: 6 s.
            try:
                r.c.close()
                r.c = raw.Client(r.port, version=raw.V5)
                r.c.send(raw.connect(r.client_id, version=raw.V5,
                                     clean=False, properties=session_props(
                                         raw.V5)))
                r.connack = r.c.expect(raw.CONNACK, timeout=20.0,
                                       what="CONNACK on B")
            except Exception as e:  # reported below
                err.append(e)
        t = threading.Thread(target=reconnect)
        t.start()
        check(fc.wait_log(0, "session mbb-sub moved to n2", 5.0),
              "the session left P for B")
        # B's route reaches C 6 s after the move; a fixed hold let P's
        # go after 5.
        time.sleep(5.4)
        reason = p.publish_one(TOPIC, b"after-the-move", qos=1)
        log("PUBACK reason on C 5.5 s after the move: %#x" % reason)
        t.join(20.0)
        check(not t.is_alive() and not err,
              "the subscriber connected to B: %r" % err)
        check_eq((r.connack.reason, r.connack.session_present), (0, 1),
                 "CONNACK on B: success, session present")
        check_eq(reason, 0, "PUBACK on C of a message for a subscriber "
                 "whose new route C has not heard yet")
        r.run_until(lambda s: b"after-the-move" in s.payloads(), 20.0,
                    "the message published on C")
        check(fc.wait_log(0, "routes of mbb-sub handed over to n2",
                       20.0), "B handed P's route over (P's log)")
        fc._each([fc.link(1, 2)], "latency 0")
        reason = p.publish_one(TOPIC, b"later", qos=1)
        check_eq(reason, 0, "PUBACK on C after B's route is in")
        r.run_until(lambda s: b"later" in s.payloads(), 20.0,
                    "the message published later")
        p.close()
        check_eq(r.payloads().count(b"after-the-move"), 1,
                 "the message published on C, once")


main(test)
