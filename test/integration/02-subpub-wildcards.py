#!/usr/bin/env python3
"""Wildcards: '+' matches exactly one level (including an empty one),
'#' matches the parent and every level below; each subscriber gets
exactly the matching messages (MQTT 3.1.1 and 5)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

TOPICS = ["w", "w/", "w/a", "w/a/b", "w/a/b/c", "w/x/b", "w//b", "v/a/b"]
EXPECT = {
    "w/+": ["w/", "w/a"],
    "w/+/b": ["w/a/b", "w/x/b", "w//b"],
    "w/#": ["w", "w/", "w/a", "w/a/b", "w/a/b/c", "w/x/b", "w//b"],
    "w/a/#": ["w/a", "w/a/b", "w/a/b/c"],
    "+/a/+": ["w/a/b", "v/a/b"],
    "+/+/+/c": ["w/a/b/c"],
    "+": ["w"],
    "#": TOPICS,
    "w/a/b": ["w/a/b"],
}


def test():
    with Broker() as b:
        for version in (V311, V5):
            subs = {}
            for i, f in enumerate(EXPECT):
                c = raw.Client(b.port, version=version)
                c.connect("wild-%d-%d" % (version, i))
                ack = c.subscribe(f, qos=1)
                check_eq(ack.codes, [1], "SUBACK for %r" % f)
                subs[f] = c
            p = raw.Client(b.port, version=version)
            p.connect("wild-pub-%d" % version)
            for i, t in enumerate(TOPICS):
                p.publish(t, t.encode(), qos=1, mid=i + 1)
            for f, c in subs.items():
                want = EXPECT[f]
                got = []
                for _ in want:
                    m = c.recv_publish(timeout=3.0)
                    got.append(m.topic)
                    check_eq(m.payload, m.topic.encode(), "payload")
                c.expect_none(0.05)
                check_eq(sorted(got), sorted(want),
                         "v%d topics received by %r" % (version, f))
                c.disconnect()
            p.disconnect()


main(test)
