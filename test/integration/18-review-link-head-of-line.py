#!/usr/bin/env python3
"""Review: one subscriber that stops reading on n2 stops every message
from n1 to n2.

Backpressure across a link (commit 9f24960): n2 holds the PUBACK of a
forwarded message whose local subscriber is over max_queued_messages, and
every later PUBACK of that link queues behind it (persist_ack_held keeps
a connection's acks in order). So the link's window (min(1024, n2's
receive_maximum)) fills with messages for the one slow subscriber, and
n1 sends nothing more to n2: messages for any other subscriber on n2 --
and the takeover's claims and session moves, which use the same forward
queue -- wait for as long as that client does not read.

On one node the same slow subscriber holds back only the publishers of
its own messages (17-backpressure-slow-subscriber); other publishers and
subscribers are not affected.

Expected: a message published on n1 for a healthy subscriber on n2 gets
there while the slow subscriber is stuck."""
import os
import socket
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, log, main, wait_for  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import Cluster  # noqa: E402

WINDOW = 50          # receive_maximum: the link's window
N = 3 * WINDOW


def test():
    conf = ["max_queued_messages 5", "max_inflight_messages 5",
            "receive_maximum %d" % WINDOW]
    with Cluster(2, conf=conf) as cl:
        slow = raw.Client(cl[1].port, version=raw.V5)
        slow.connect("hol-slow")
        slow.subscribe([("hol/slow", 1)])     # and never reads again
        fast = raw.Client(cl[1].port, version=raw.V5)
        fast.connect("hol-fast")
        fast.subscribe([("hol/fast", 1)])

        p = raw.Client(cl[0].port, version=raw.V5)
        p.connect("hol-pub")
        # n1 takes them all into its forward queue; the publisher keeps
        # to the Receive Maximum n1 gave it (WINDOW).
        sent = acked = 0
        while acked < N:
            while sent < N and sent - acked < WINDOW:
                sent += 1
                p.send(raw.publish("hol/slow", b"s%03d" % sent, qos=1,
                                   mid=sent, version=raw.V5))
            p.expect(raw.PUBACK, 10.0, "PUBACK on n1")
            acked += 1
        wait_for(lambda: "held: queue of hol-slow full" in cl[1].log(),
                 10.0, "n2 holds a link ack for hol-slow")

        p2 = raw.Client(cl[0].port, version=raw.V5)
        p2.connect("hol-pub2")
        p2.publish("hol/fast", b"for the healthy subscriber", qos=1, mid=1)
        try:
            got = fast.recv_publish(timeout=10.0)
        except AssertionError as e:
            got = None
            log("hol-fast: %s" % e)
        check(got is not None, "a message for a healthy subscriber on n2 "
              "is stuck on n1 behind the link window that one slow "
              "subscriber on n2 holds")
        p.disconnect()
        p2.disconnect()
        fast.disconnect()
        slow.abort()


main(test)
