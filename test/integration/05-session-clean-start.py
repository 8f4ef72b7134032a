#!/usr/bin/env python3
"""Clean session 1 / clean start 1 discards a stored session: session
present 0, no queued message delivered, old subscriptions gone."""
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
            cid = "discard-%d" % version
            props = {"session_expiry_interval": 300} if version == V5 \
                else None
            c = raw.Client(b.port, version=version)
            c.connect(cid, clean=False, properties=props)
            c.subscribe("cs/%d" % version, qos=1)
            c.disconnect()
            p = raw.Client(b.port, version=version)
            p.connect(cid + "-pub")
            p.publish("cs/%d" % version, b"queued", qos=1)

            c = raw.Client(b.port, version=version)
            ack = c.connect(cid, clean=True)
            check_eq(ack.session_present, 0, "session present")
            # a marker on a fresh subscription: any queued message would
            # have come before it
            c.subscribe("cs/marker", qos=1)
            p.publish("cs/marker", b"m", qos=1, mid=2)
            m = c.recv_publish(timeout=3.0)
            check_eq((m.topic, m.payload), ("cs/marker", b"m"),
                     "first message after clean start")
            p.publish("cs/%d" % version, b"after", qos=1, mid=3)
            p.publish("cs/marker", b"m2", qos=1, mid=4)
            m = c.recv_publish(timeout=3.0)
            check_eq(m.payload, b"m2", "old subscription is gone")
            c.disconnect()
            p.disconnect()


main(test)
