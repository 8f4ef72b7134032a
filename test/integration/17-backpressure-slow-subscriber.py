#!/usr/bin/env python3
"""Backpressure: a subscriber that stops reading does not make the node
drop messages it has acknowledged. Past max_queued_messages the
publisher's PUBACKs are held, so a publisher that keeps a window of
unacknowledged messages (as every MQTT client does) stalls; once the
subscriber reads again, every message arrives, once and in order, and the
publisher gets all its acks."""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import mqttraw as raw  # noqa: E402
from harness import Broker, check, check_eq, main, tern_only  # noqa: E402

LIMIT = 50
INFLIGHT = 10
WINDOW = 20
N = 600
TOPIC = "bp/slow"


def test():
    tern_only("publisher backpressure (mosquitto drops past its limit)")
    with Broker(conf=["max_queued_messages %d" % LIMIT,
                      "max_inflight_messages %d" % INFLIGHT]) as b:
        sub = raw.Client(b.port, version=raw.V311, timeout=10.0)
        sub.send(raw.connect("bp-sub", version=raw.V311))
        sub.expect(raw.CONNACK)
        sub.send(raw.subscribe(1, [(TOPIC, 1)]))
        sub.expect(raw.SUBACK)

        pub = raw.Client(b.port, version=raw.V5, timeout=10.0)
        pub.send(raw.connect("bp-pub", version=raw.V5))
        pub.expect(raw.CONNACK)

        sent = acked = 0
        acks = []

        def pump(deadline):
            """Publish within the window until N are sent or the window
            stays full until deadline; returns when nothing moves."""
            nonlocal sent, acked
            while time.monotonic() < deadline:
                while sent < N and sent - acked < WINDOW:
                    sent += 1
                    pub.send(raw.publish(TOPIC, b"m%04d" % sent, qos=1,
                                         mid=sent, version=raw.V5))
                if acked == N:
                    return
                try:
                    p = pub.recv(max(0.001, min(0.3, deadline -
                                                time.monotonic())))
                except Exception:  # noqa: timeout: the window is stuck
                    if sent - acked >= WINDOW or sent == N:
                        return
                    continue
                check_eq(p.type, raw.PUBACK, "packet to the publisher")
                acks.append(p.mid)
                acked += 1

        # The subscriber reads nothing: the publisher must stall.
        pump(time.monotonic() + 5.0)
        check(acked < N, "publisher stalled (got %d of %d acks while the "
              "subscriber read nothing)" % (acked, N))
        check(acked <= INFLIGHT + 2 * LIMIT,
              "acks while stalled: %d, at most %d expected"
              % (acked, INFLIGHT + 2 * LIMIT))
        stalled_at = acked

        # The subscriber reads and acks everything; the publisher goes on.
        got = []
        deadline = time.monotonic() + 60.0
        while len(got) < N and time.monotonic() < deadline:
            try:
                p = sub.recv(0.05)
                check_eq(p.type, raw.PUBLISH, "packet to the subscriber")
                got.append(bytes(p.payload))
                sub.send(raw.puback(p.mid))
            except Exception as e:  # noqa
                if isinstance(e, AssertionError):
                    raise
            pump(time.monotonic() + 0.05)
        pump(time.monotonic() + 5.0)
        check_eq(len(got), N, "messages at the subscriber")
        check_eq(got, [b"m%04d" % i for i in range(1, N + 1)],
                 "payloads, in order, once each")
        check_eq(acked, N, "acks at the publisher (stalled at %d)"
                 % stalled_at)
        check_eq(acks, list(range(1, N + 1)), "acks in publish order")
        check("dropping" not in b.log(), "no message dropped")


main(test)
