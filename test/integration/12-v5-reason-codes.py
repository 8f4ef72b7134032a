#!/usr/bin/env python3
"""MQTT 5 acknowledgement reason codes: SUBACK grants the QoS asked
for, UNSUBACK 0x11 for a filter that was not subscribed, PUBACK 0x10 or
0x00 when no one is subscribed, CONNACK properties are well formed."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    with Broker() as b:
        c = raw.Client(b.port, version=V5)
        ack = c.connect("rc5")
        check_eq(ack.reason, 0, "CONNACK reason")
        check(ack.props.get("maximum_qos", 2) in (1, 0) or
              "maximum_qos" not in ack.props,
              "Maximum QoS property, if present, is 0 or 1: %r" % ack.props)
        s = c.subscribe([("rc/0", 0), ("rc/1", 1), ("rc/2", 2)])
        check_eq(s.codes, [0, 1, 2], "SUBACK reason codes")
        u = c.unsubscribe(["rc/1", "rc/never"], mid=2)
        check_eq(u.codes, [0x00, 0x11], "UNSUBACK reason codes")
        a = c.publish("rc/nobody", b"x", qos=1, mid=3)
        check(a.reason in (0x00, 0x10), "PUBACK reason %#x" % a.reason)
        c.disconnect()


main(test)
