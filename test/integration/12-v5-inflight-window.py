#!/usr/bin/env python3
"""The window of messages in flight to a subscriber (issue 16, item 1).

A. A v5 subscriber that states no Receive Maximum (65535 then) gets
   every one of 600 QoS 1 messages without acknowledging any (the old
   window of 20 held it to 20).
B. One with Receive Maximum 50 gets 50, then one more per PUBACK.
C. A 3.1.1 subscriber gets max_inflight_messages_v311 (1000) of 1200,
   the rest once it acknowledges; with max_inflight_messages_v311 7, 7.
D. A window of 65535 does not turn the output buffer into an unbounded
   queue: a v5 subscriber that reads nothing, max_queued_messages 100,
   a publisher of 20,000 QoS 1 messages of 4 KiB (80 MiB) that keeps
   500 unacknowledged: its acks stop well short of 20,000 (the messages
   wait in the queue, whose limit holds the acks back; without the
   bound all went into the output buffer and were acknowledged), and
   once the subscriber reads, every message arrives and is
   acknowledged.
E. A publisher that ignores its window (receive_maximum 100) while its
   acks wait for a slow subscriber's room (max_queued_messages 50): it
   is closed (v5: DISCONNECT 0x93) rather than read on without bound;
   every message it had acknowledged is delivered (before, past twice
   the queue limit, they were acknowledged and dropped)."""
import os
import socket
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402
from v5util import recv_or_none  # noqa: E402


def unacked(c, limit, quiet=1.0, bound=20.0):
    """Read PUBLISH packets without acknowledging them until none comes
    for `quiet` seconds (at most `bound` s, at most limit + 5)."""
    got = []
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline and len(got) <= limit + 5:
        p = recv_or_none(c, quiet)
        if p is None:
            break
        check_eq(p.type, raw.PUBLISH, "only PUBLISH packets")
        got.append(p)
    return got


def publish_n(port, topic, n, qos=1, payload=b"x"):
    p = raw.Client(port, version=V5)
    p.connect("pub-" + topic.replace("/", "-"))
    for i in range(n):
        p.send(raw.publish(topic, payload, qos=qos, mid=i % 65535 + 1,
                           version=V5))
    return p


def test():
    tern_only("max_inflight_messages_v311 and the output bound")
    with Broker(conf=["max_queued_messages 10000"]) as b:
        # A
        a = raw.Client(b.port, version=V5)
        a.connect("win-a")
        a.subscribe("w/a", qos=1)
        pa = publish_n(b.port, "w/a", 600)
        got = unacked(a, 600)
        check_eq(len(got), 600, "A: in flight without a Receive Maximum")
        a.close()
        pa.close()

        # B
        c = raw.Client(b.port, version=V5)
        c.connect("win-b", properties={"receive_maximum": 50})
        c.subscribe("w/b", qos=1)
        pb = publish_n(b.port, "w/b", 80)
        got = unacked(c, 50)
        check_eq(len(got), 50, "B: in flight with Receive Maximum 50")
        c.send(raw.puback(got[0].mid, version=V5))
        more = unacked(c, 1)
        check_eq(len(more), 1, "B: one more after one PUBACK")
        c.close()
        pb.close()

        # C
        d = raw.Client(b.port, version=V311)
        d.connect("win-c")
        d.subscribe("w/c", qos=1)
        pc = publish_n(b.port, "w/c", 1200)
        got = unacked(d, 1000)
        check_eq(len(got), 1000, "C: in flight to a 3.1.1 client")
        for m in got:
            d.send(raw.puback(m.mid, version=V311))
        rest = unacked(d, 200)
        check_eq(len(rest), 200, "C: the rest after the PUBACKs")
        d.close()
        pc.close()

    with Broker(conf=["max_inflight_messages_v311 7"], name="v311-7") as b:
        d = raw.Client(b.port, version=V311)
        d.connect("win-c7")
        d.subscribe("w/c", qos=1)
        pc = publish_n(b.port, "w/c", 20)
        check_eq(len(unacked(d, 7)), 7, "C: max_inflight_messages_v311 7")
        d.close()
        pc.close()

    # D
    n, size = 20000, 4096
    WINDOW = 500
    with Broker(conf=["max_queued_messages 100"], name="bound") as b:
        s = raw.Client(b.port, version=V5, timeout=30.0)
        s.connect("slow", clean=True)
        s.subscribe("w/d", qos=1)
        p = raw.Client(b.port, version=V5, timeout=30.0)
        p.connect("flood")
        body = b"y" * size
        acked = set()

        def take_acks(wait):
            while True:
                pk = recv_or_none(p, wait)
                if pk is None:
                    return
                if pk.type == raw.PUBACK:
                    acked.add(pk.mid)

        # A publisher that keeps WINDOW messages unacknowledged, as a
        # client does: it stops when its acks stop.
        sent = 0
        deadline = time.monotonic() + 60.0
        while sent < n and time.monotonic() < deadline:
            while sent < n and sent - len(acked) < WINDOW:
                p.send(raw.publish("w/d", body, qos=1, mid=sent + 1,
                                   version=V5))
                sent += 1
            before = len(acked)
            take_acks(0.05 if sent < 2000 else 2.0)
            if len(acked) == before and sent - len(acked) >= WINDOW:
                break
        log("D: %d sent, %d acknowledged while the subscriber reads "
            "nothing" % (sent, len(acked)))
        check(len(acked) < n // 2, "D: the acks stop (%d of %d): the "
              "messages wait in the queue, not in the output" %
              (len(acked), n))
        # Now it reads and acknowledges: everything comes, and every
        # message is acknowledged to the publisher.
        received = 0
        deadline = time.monotonic() + 120.0
        while time.monotonic() < deadline and received < n:
            m = recv_or_none(s, 10.0)
            if m is None:
                break
            if m.type == raw.PUBLISH:
                received += 1
                s.send(raw.puback(m.mid, version=V5))
            if received % 100 == 0:
                take_acks(0.01)
                while sent < n and sent - len(acked) < WINDOW:
                    p.send(raw.publish("w/d", body, qos=1, mid=sent + 1,
                                       version=V5))
                    sent += 1
        take_acks(2.0)
        log("D: %d received, %d acknowledged in the end" %
            (received, len(acked)))
        check_eq(received, n, "D: every message received")
        check_eq(len(acked), n, "D: every message acknowledged")
        s.close()
        p.close()

    # E
    conf = ["max_queued_messages 50", "receive_maximum 100"]
    for version in (V311, V5):
        with Broker(conf=conf, name="window-%d" % version) as b:
            s = raw.Client(b.port, version=V5, timeout=30.0)
            s.connect("slow-e", properties={"receive_maximum": 10})
            s.subscribe("w/e", qos=1)
            p = raw.Client(b.port, version=version, timeout=30.0)
            p.connect("flood-e")
            for i in range(400):
                try:
                    p.send(raw.publish("w/e", b"%d" % i, qos=1, mid=i + 1,
                                       version=version))
                except OSError:
                    break
            acked, closed, reason = set(), False, None
            deadline = time.monotonic() + 20.0
            while time.monotonic() < deadline:
                try:
                    pk = recv_or_none(p, 2.0)
                except AssertionError:
                    closed = True
                    break
                if pk is None:
                    break
                if pk.type == raw.PUBACK:
                    acked.add(pk.mid)
                elif pk.type == raw.DISCONNECT:
                    reason = pk.reason
            log("E (%d): %d acknowledged, closed %s, DISCONNECT %r" %
                (version, len(acked), closed, reason))
            check(closed, "E (%d): the publisher past its window while "
                  "its acks wait is closed" % version)
            if version == V5:
                check_eq(reason, 0x93, "E: v5 DISCONNECT reason")
            check(len(acked) < 400, "E (%d): not every message acked" %
                  version)
            got = set()
            deadline = time.monotonic() + 30.0
            while time.monotonic() < deadline:
                m = recv_or_none(s, 2.0)
                if m is None:
                    break
                if m.type == raw.PUBLISH:
                    got.add(int(m.payload))
                    s.send(raw.puback(m.mid, version=V5))
            missing = sorted(i for i in (x - 1 for x in acked)
                             if i not in got)
            check(not missing, "E (%d): every acknowledged message "
                  "delivered; missing %r" % (version, missing[:10]))
            s.close()
            p.close()


main(test)
