#!/usr/bin/env python3
"""MQTT 5 subscription option No Local: a client does not receive its
own messages on such a subscription, but others' messages; without No
Local it receives its own."""
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
        c.connect("nl-self")
        c.subscribe([("nl/local", 1 | 0x04), ("nl/echo", 1)])
        o = raw.Client(b.port, version=V5)
        o.connect("nl-other")
        c.publish("nl/local", b"mine", qos=1, mid=1)
        c.publish("nl/echo", b"echo", qos=1, mid=2)
        o.publish("nl/local", b"theirs", qos=1, mid=3)
        got = [(m.topic, m.payload) for m in
               (c.recv_publish(timeout=3.0) for _ in range(2))]
        check_eq(got, [("nl/echo", b"echo"), ("nl/local", b"theirs")],
                 "messages received")
        c.expect_none(0.2)
        c.disconnect()
        o.disconnect()


main(test)
