#!/usr/bin/env python3
"""max_queued_messages: an offline persistent client does not get more
than max_queued + max_inflight messages of a burst; what it gets is in
order; the broker survives."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

QUEUED = 5
INFLIGHT = 2
N = 60


def test():
    with Broker(conf=["max_queued_messages %d" % QUEUED,
                      "max_inflight_messages %d" % INFLIGHT]) as b:
        c = raw.Client(b.port, version=V311)
        c.connect("mq-offline", clean=False)
        c.subscribe("mq/t", qos=1)
        c.disconnect()
        p = raw.Client(b.port, version=V311)
        p.connect("mq-pub")
        for i in range(N):
            p.publish("mq/t", b"%03d" % i, qos=1, mid=i + 1)
        c = raw.Client(b.port, version=V311)
        ack = c.connect("mq-offline", clean=False)
        check_eq(ack.session_present, 1, "session present")
        c.subscribe("mq/marker", qos=1, mid=99)
        p.publish("mq/marker", b"end", qos=1, mid=100)
        got = []
        while True:
            m = c.recv_publish(timeout=3.0)
            if m.topic == "mq/marker":
                break
            got.append(int(m.payload))
        log("received %d of %d: %r" % (len(got), N, got))
        check(1 <= len(got) <= QUEUED + INFLIGHT,
              "queued messages delivered: %d" % len(got))
        check_eq(got, sorted(got), "order")
        check_eq(len(set(got)), len(got), "no duplicates")
        c.disconnect()
        p.disconnect()
        c = raw.Client(b.port, version=V311)
        c.connect("mq-offline", clean=True)
        c.disconnect()


main(test)
