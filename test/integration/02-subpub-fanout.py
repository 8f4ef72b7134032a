#!/usr/bin/env python3
"""Fan-out: 20 subscribers (half 3.1.1, half 5) each get all 100
QoS 1 messages of a publisher, exactly once and in order."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

SUBS = 20
N = 100


def test():
    with Broker() as b:
        subs = []
        for i in range(SUBS):
            v = V311 if i % 2 else V5
            c = raw.Client(b.port, version=v)
            c.connect("fan-%d" % i)
            c.subscribe("fan/t", qos=1)
            subs.append(c)
        p = raw.Client(b.port, version=V5)
        p.connect("fan-pub")
        for i in range(N):
            p.publish("fan/t", b"%03d" % i, qos=1, mid=i + 1)
        for k, c in enumerate(subs):
            got = [c.recv_publish(timeout=5.0).payload for _ in range(N)]
            check_eq(got, [b"%03d" % i for i in range(N)],
                     "messages at subscriber %d" % k)
            c.expect_none(0.02)
            c.disconnect()
        p.disconnect()


main(test)
