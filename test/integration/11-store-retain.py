#!/usr/bin/env python3
"""Durability of retained messages: retained messages set with QoS 1/2
(acknowledged) survive kill -9 of ternd, twice in a row, with their v5
properties; one replaced keeps its last value; one cleared (empty retained
payload, acknowledged) stays cleared. Seen by 3.1.1 and v5 subscribers."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from storeutil import *  # noqa: E402,F401,F403

PROPS = {"payload_format_indicator": 1, "content_type": "text/plain",
         "user_property": [("k", "v")]}
WANT = {"ret/keep1": b"kept-q1", "ret/keep2": b"kept-q2",
        "ret/replace": b"second"}


def retained(b, v, what):
    """Subscribe to ret/#, then to ret-marker: the retained messages of
    ret/# are those before the marker's."""
    c = raw.Client(b.port, version=v)
    c.connect("ret-check-%d" % v)
    c.subscribe([("ret/#", 2)], mid=1)
    c.subscribe([("ret-marker", 1)], mid=2)
    got = {}
    while True:
        p = c.recv_publish(timeout=3.0)
        check_eq(p.retain, 1, "%s v%d: retain flag of %s" % (what, v,
                                                            p.topic))
        if p.topic == "ret-marker":
            break
        check(p.topic not in got, "%s v%d: %s twice" % (what, v, p.topic))
        got[p.topic] = p
    check_eq(dict((t, p.payload) for t, p in got.items()), WANT,
             "%s v%d: retained messages" % (what, v))
    check_eq((got["ret/keep1"].qos, got["ret/keep2"].qos), (1, 2),
             "%s v%d: QoS of the retained messages" % (what, v))
    if v == V5:
        pr = got["ret/keep1"].props
        check_eq((pr.get("payload_format_indicator"),
                  pr.get("content_type"), pr.get("user_property")),
                 (1, "text/plain", [("k", "v")]),
                 "%s: v5 properties of a retained message" % what)
    c.disconnect()


def test():
    store_only()
    with Broker() as b:
        p5 = Publisher(b.port, "ret-pub-5", version=V5)
        p3 = Publisher(b.port, "ret-pub-4", version=V311)
        p5.publish_one("ret/keep1", b"kept-q1", qos=1, retain=True,
                       properties=PROPS)
        p3.publish_one("ret/keep2", b"kept-q2", qos=2, retain=True)
        p3.publish_one("ret/replace", b"first", qos=1, retain=True)
        p5.publish_one("ret/replace", b"second", qos=2, retain=True)
        p3.publish_one("ret/cleared", b"gone", qos=1, retain=True)
        p5.publish_one("ret/cleared2", b"gone", qos=2, retain=True)
        p3.publish_one("ret-marker", b"m", qos=1, retain=True)
        # cleared: an empty retained payload, acknowledged, then the kill
        p5.publish_one("ret/cleared", b"", qos=1, retain=True)
        p3.publish_one("ret/cleared2", b"", qos=2, retain=True)
        crash(b)       # at once after the last acknowledgement
        for v in (V311, V5):
            retained(b, v, "after kill -9")
        crash(b)
        for v in (V311, V5):
            retained(b, v, "after a second kill -9")


main(test)
