#!/usr/bin/env python3
"""MQTT 5 subscription options: Retain Handling 0 sends retained
messages at every subscribe, 1 only for a new subscription, 2 never;
Retain As Published keeps the retain flag on live messages."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def first_or_none(c, timeout=0.3):
    try:
        return c.recv_publish(timeout=timeout)
    except AssertionError:
        return None


def test():
    with Broker() as b:
        pub(b.port, "rh/t", "kept", qos=1, retain=True, version=5)
        c = raw.Client(b.port, version=V5)
        c.connect("rh")
        # 0: at every subscribe
        for _ in range(2):
            c.subscribe("rh/t", qos=1)
            m = c.recv_publish(timeout=3.0)
            check_eq((m.payload, m.retain), (b"kept", 1), "retain handling 0")
        c.unsubscribe("rh/t")
        # 1: only when the subscription is new
        c.subscribe("rh/t", qos=1 | 0x10)
        check_eq(c.recv_publish(timeout=3.0).payload, b"kept",
                 "retain handling 1, new subscription")
        c.subscribe("rh/t", qos=1 | 0x10)
        check(first_or_none(c) is None, "retain handling 1, existing "
              "subscription: no retained message")
        c.unsubscribe("rh/t")
        # 2: never
        c.subscribe("rh/t", qos=1 | 0x20)
        check(first_or_none(c) is None, "retain handling 2: nothing")
        c.unsubscribe("rh/t")

        # retain as published
        c.subscribe([("rh/rap", 1 | 0x08), ("rh/norap", 1)])
        pub(b.port, "rh/rap", "a", qos=1, retain=True, version=5)
        m = c.recv_publish(timeout=3.0)
        check_eq((m.payload, m.retain), (b"a", 1), "retain as published")
        pub(b.port, "rh/norap", "b", qos=1, retain=True, version=5)
        m = c.recv_publish(timeout=3.0)
        check_eq((m.payload, m.retain), (b"b", 0), "without retain as "
                 "published")
        c.disconnect()


main(test)
