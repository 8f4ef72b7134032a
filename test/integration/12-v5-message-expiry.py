#!/usr/bin/env python3
"""MQTT 5 message expiry: a queued message whose expiry has passed is
not delivered; one still valid is delivered with the expiry interval
reduced by the time it waited."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
import time  # noqa: E402


def test():
    with Broker() as b:
        props = {"session_expiry_interval": 60}
        c = raw.Client(b.port, version=V5)
        c.connect("me", clean=True, properties=props)
        c.subscribe("me/t", qos=1)
        c.disconnect()
        p = raw.Client(b.port, version=V5)
        p.connect("me-pub")
        p.publish("me/t", b"short", qos=1, mid=1,
                  properties={"message_expiry_interval": 1})
        p.publish("me/t", b"long", qos=1, mid=2,
                  properties={"message_expiry_interval": 100})
        p.disconnect()
        time.sleep(2.2)    # let the first message expire
        c = raw.Client(b.port, version=V5)
        ack = c.connect("me", clean=False, properties=props)
        check_eq(ack.session_present, 1, "session present")
        m = c.recv_publish(timeout=3.0)
        check_eq(m.payload, b"long", "only the unexpired message")
        left = m.props.get("message_expiry_interval")
        check(left is not None and 90 <= left <= 99,
              "remaining expiry interval %r" % left)
        c.expect_none(0.2)
        c.disconnect()
        c = raw.Client(b.port, version=V5)
        c.connect("me", clean=True)
        c.disconnect()


main(test)
