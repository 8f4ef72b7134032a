#!/usr/bin/env python3
"""MQTT 5 clean start 0 with session expiry 0 (the default): the
session ends when the connection closes; a reconnect gets session
present 0 and no queued messages."""
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
        c.connect("exp0", clean=False)
        c.subscribe("e0/t", qos=1)
        c.disconnect()
        p = raw.Client(b.port, version=V5)
        p.connect("exp0-pub")
        p.publish("e0/t", b"lost", qos=1)
        c = raw.Client(b.port, version=V5)
        ack = c.connect("exp0", clean=False)
        check_eq(ack.session_present, 0, "session present")
        c.subscribe("e0/marker", qos=1)
        p.publish("e0/marker", b"m", qos=1, mid=2)
        m = c.recv_publish(timeout=3.0)
        check_eq(m.topic, "e0/marker", "no queued message before marker")
        c.disconnect()
        p.disconnect()


main(test)
