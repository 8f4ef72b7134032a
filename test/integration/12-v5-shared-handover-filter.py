#!/usr/bin/env python3
"""MQTT 5 shared subscriptions, hand-over stays within the shared
subscription: $share/g/shf/# (members A and B) and $share/g/# (member C)
have the same group name but are different shared subscriptions. When A
leaves with a message it has not acknowledged, that message goes to B,
never to C, which already got its own copy through $share/g/#.
(tern-only: mosquitto 2.0.11 does not hand messages over.)"""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403


def test():
    tern_only("hand-over of a leaving member's messages")
    with Broker() as b:
        a = raw.Client(b.port, version=V5)
        a.connect("shf-a", properties={"receive_maximum": 1,
                                       "session_expiry_interval": 300})
        a.subscribe("$share/g/shf/#", qos=1)
        c = raw.Client(b.port, version=V5)
        c.connect("shf-c")
        c.subscribe("$share/g/#", qos=1)
        p = raw.Client(b.port, version=V5)
        p.connect("shf-pub")
        p.publish("shf/x", b"one", qos=1, mid=1)
        held = publishes(a, 1, what="member A")[0]
        check_eq(held.payload, b"one", "A holds the message")
        got_c = [x.payload for x in drain_publishes(c, 0.3, expect=1)]
        check_eq(got_c, [b"one"], "C got the copy of its own subscription")
        # B joins A's shared subscription; then A leaves unacknowledged
        bb = raw.Client(b.port, version=V5)
        bb.connect("shf-b")
        bb.subscribe("$share/g/shf/#", qos=1)
        a.abort()
        got_b = [x.payload for x in drain_publishes(bb, 0.5, expect=1)]
        check_eq(got_b, [b"one"], "A's message handed over to B")
        check(recv_or_none(c, 0.3) is None,
              "C gets no second copy from the other shared subscription")
        for x in (bb, c, p):
            x.disconnect()
        a = raw.Client(b.port, version=V5)
        a.connect("shf-a", clean=True)
        a.disconnect()


main(test)
