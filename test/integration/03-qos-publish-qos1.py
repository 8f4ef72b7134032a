#!/usr/bin/env python3
"""QoS 1 from a publisher: PUBACK carries the PUBLISH packet id (also a
large one); the subscriber gets the message once."""
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
            s = raw.Client(b.port, version=version)
            s.connect("q1-sub-%d" % version)
            s.subscribe("q1/t", qos=1)
            p = raw.Client(b.port, version=version)
            p.connect("q1-pub-%d" % version)
            for mid in (1, 0x1234, 65535):
                ack = p.publish("q1/t", b"m%d" % mid, qos=1, mid=mid)
                if version == V5:
                    check_eq(ack.reason, 0, "PUBACK reason (one subscriber)")
            for mid in (1, 0x1234, 65535):
                m = s.recv_publish()
                check_eq((m.payload, m.qos, m.dup), (b"m%d" % mid, 1, 0),
                         "delivered message")
                check(1 <= m.mid <= 65535, "packet id %r" % m.mid)
            s.expect_none(0.1)
            # no subscriber: still a PUBACK (v5 reason 0x00 or 0x10)
            ack = p.publish("q1/nobody", b"x", qos=1, mid=77)
            if version == V5:
                check(ack.reason in (0x00, 0x10), "PUBACK reason %#x"
                      % ack.reason)
            p.disconnect()
            s.disconnect()


main(test)
