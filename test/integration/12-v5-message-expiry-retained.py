#!/usr/bin/env python3
"""MQTT 5 Message Expiry of retained messages (3.3.2.3.3): a retained
message with expiry 3 s is not sent to a subscriber that subscribes
after 3.5 s [MQTT-3.3.2-5] (3 s: a subscriber at once must still get it
on a loaded machine); a retained message with expiry 100 s is sent with
the remaining interval [MQTT-3.3.2-6]; one without expiry has no
Message Expiry property."""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403


def test():
    with Broker() as b:
        p = raw.Client(b.port, version=V5)
        p.connect("mer-pub")
        t0 = time.monotonic()
        p.publish("mer/short", b"short", qos=1, mid=1, retain=True,
                  properties={"message_expiry_interval": 3})
        p.publish("mer/long", b"long", qos=1, mid=2, retain=True,
                  properties={"message_expiry_interval": 100})
        p.publish("mer/none", b"none", qos=1, mid=3, retain=True)
        p.disconnect()
        # at once the short one is still there
        c = raw.Client(b.port, version=V5)
        c.connect("mer-early")
        c.subscribe("mer/short", qos=1)
        m = c.recv_publish(timeout=3.0)
        check_eq((m.payload, m.retain), (b"short", 1), "before expiry")
        c.disconnect()
        time.sleep(max(0.0, t0 + 3.5 - time.monotonic()))
        c = raw.Client(b.port, version=V5)
        c.connect("mer-late")
        c.subscribe("mer/#", qos=1)
        got = {m.payload: m for m in drain_publishes(c, 0.3)}
        check_eq(sorted(got), [b"long", b"none"], "retained messages left")
        left = got[b"long"].props.get("message_expiry_interval")
        check(left is not None and 90 <= left <= 98,
              "remaining expiry interval %r" % left)
        check("message_expiry_interval" not in got[b"none"].props,
              "no expiry property on a message without one")
        c.disconnect()
        # the same for a 3.1.1 subscriber
        o = raw.Client(b.port, version=V311)
        o.connect("mer-311")
        o.subscribe("mer/#", qos=1)
        check_eq(sorted(m.payload for m in drain_publishes(o, 0.3)),
                 [b"long", b"none"], "3.1.1: retained messages left")
        o.disconnect()


main(test)
