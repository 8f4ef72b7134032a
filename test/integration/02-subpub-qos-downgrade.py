#!/usr/bin/env python3
"""A message is delivered at the minimum of its publish QoS and the
subscription's maximum QoS; SUBACK grants the requested QoS."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    with Broker() as b:
        for version in (V311, V5):
            subs = []
            for sq in (0, 1, 2):
                c = raw.Client(b.port, version=version)
                c.connect("down-%d-%d" % (version, sq))
                ack = c.subscribe("dg/t", qos=sq)
                check_eq(ack.codes, [sq], "SUBACK granted QoS")
                subs.append((sq, c))
            p = raw.Client(b.port, version=version)
            p.connect("down-pub-%d" % version)
            for pq in (0, 1, 2):
                p.publish("dg/t", ("q%d" % pq).encode(), qos=pq, mid=pq + 1)
            for sq, c in subs:
                got = [(m.payload, m.qos) for m in
                       (c.recv_publish(timeout=3.0) for _ in range(3))]
                check_eq(got, [(b"q%d" % pq, min(pq, sq)) for pq in (0, 1, 2)],
                         "v%d messages at the QoS %d subscriber"
                         % (version, sq))
                c.expect_none(0.1)
                c.disconnect()
            p.disconnect()


main(test)
