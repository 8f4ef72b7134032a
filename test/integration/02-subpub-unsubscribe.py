#!/usr/bin/env python3
"""UNSUBSCRIBE stops delivery on that filter only; UNSUBACK carries the
packet id (v5: reason 0x00 for an existing subscription)."""
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
            c = raw.Client(b.port, version=version)
            c.connect("unsub-%d" % version)
            c.subscribe([("un/a", 1), ("un/b", 1)], mid=3)
            p = raw.Client(b.port, version=version)
            p.connect("unsub-pub-%d" % version)
            p.publish("un/a", b"a1", qos=1, mid=1)
            check_eq(c.recv_publish().payload, b"a1", "before unsubscribe")
            ack = c.unsubscribe("un/a", mid=9)
            if version == V5:
                check_eq(ack.codes, [0], "UNSUBACK reason codes")
            p.publish("un/a", b"a2", qos=1, mid=2)
            p.publish("un/b", b"b1", qos=1, mid=3)
            m = c.recv_publish()
            check_eq((m.topic, m.payload), ("un/b", b"b1"),
                     "only the remaining subscription delivers")
            c.expect_none(0.2)
            c.disconnect()
            p.disconnect()


main(test)
