#!/usr/bin/env python3
"""Cluster: a moved session's id window keeps what came with the move when
its history is merged in, so that a copy passed on later is recognised.

Two nodes; both links (each through its own fault proxy) have 300 ms of
latency. A persistent QoS 2 subscriber (v5, filter win/u/#) has had 300
messages on n2, so its window of message ids is full, and moves to n1;
n2 keeps a forwarding address, whose route n1 hears withdrawn only
after the hand-over (n1's route at n2, n2's ack, "routed": about 1.2 s).
The subscriber disconnects at once and connects to n2 again: n2's claim
takes 300 ms to reach n1. Meanwhile a QoS 2 message M (win/u/m) is
published on n1: n1 queues it for the offline session and forwards it to
n2 (whose route it still has), and n2's forwarding address passes it back
to n1. The claim reaches n1 first: the session moves to n2 with M and its
window (full), and the subscriber gets M. A message N (win/u/n) published
on n2 follows. Then the copy of M that n2 passed back reaches n1, whose
forwarding address passes it on to n2 again: n2 must recognise it by
identity and not deliver it a second time. (The window once took the
moved history in after M, filled up exactly, and N pushed M out.)"""
import os
import sys
import threading
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, log, main, tern_only  # noqa: E402
import mqttraw as raw  # noqa: E402
from faultcluster import FaultCluster, drain_quiet  # noqa: E402
from storeutil import Publisher, Receiver, payloads  # noqa: E402

LATENCY_MS = 300


def test():
    tern_only("a cluster of ternd nodes")
    with FaultCluster(2, tag="win", log_level="debug") as fc:
        check(fc.wait_links(20.0), "links up: %s" % fc.link_report())
        r = Receiver(fc.nodes[1].port, "win-sub", version=raw.V5)
        r.connect(clean=False, expect_present=0)
        r.subscribe([("win/u/#", 2)])
        time.sleep(0.5)  # n2's route reaches n1
        fill = payloads("fill", 300)
        p2 = Publisher(fc.nodes[1].port, "win-pub2", version=raw.V5)
        p2.publish_acked("win/u/fill", fill, qos=1, window=16, timeout=20.0)
        r.run_until(lambda s: len(s.payloads()) >= len(fill), 20.0,
                    "the 300 messages on n2")
        p1 = Publisher(fc.nodes[0].port, "win-pub1", version=raw.V5)
        fc._each([fc.link(1, 0), fc.link(0, 1)], "latency %d" % LATENCY_MS)
        log("%d ms latency on the links" % LATENCY_MS)
        time.sleep(2 * LATENCY_MS / 1000.0 + 0.5)  # pings flow again
        # The session moves to n1; n2 keeps a forwarding address.
        r.port = fc.nodes[0].port
        r.connect(clean=False, expect_present=1)
        r.c.disconnect()
        r.c = None
        # The subscriber connects to n2; its claim is on its way to n1.
        r.port = fc.nodes[1].port
        err = []

        def reconnect():
            try:
                r.connect(clean=False, expect_present=1)
            except Exception as e:  # reported below
                err.append(e)
        t = threading.Thread(target=reconnect)
        t.start()
        time.sleep(LATENCY_MS / 2000.0)
        check_eq(p1.publish_one("win/u/m", b"M", qos=2), 0,
                 "PUBREC of M on n1")
        t.join(10.0)
        check(not t.is_alive() and not err,
              "the subscriber connected to n2: %r" % err)
        check_eq(p2.publish_one("win/u/n", b"N", qos=2), 0,
                 "PUBREC of N on n2")
        r.run_until(lambda s: b"M" in s.payloads() and
                    b"N" in s.payloads(), 10.0, "M and N")
        # The copy of M passed back and forth arrives about now.
        drain_quiet(r, quiet=2.5, bound=10.0)
        fc._each([fc.link(1, 0), fc.link(0, 1)], "latency 0")
        p1.close()
        p2.close()
        got = r.payloads()
        log("delivered after the move: %r" % got[len(fill):])
        check_eq(got.count(b"M"), 1, "M delivered once")
        # The case happened: the copy passed back came and was known.
        check("message on win/u/m passed on to win-sub: had it already"
              in fc.nodes[1].log(), "n2 got the copy of M passed back "
              "and recognised it (its log)")
        check_eq(got.count(b"N"), 1, "N delivered once")
        check(not r.dups, "no QoS 2 duplicates recognised by packet id: %r"
              % r.dups)
        check(not r.awaiting_rel, "every QoS 2 flow released")


main(test)
