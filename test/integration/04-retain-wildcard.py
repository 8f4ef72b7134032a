#!/usr/bin/env python3
"""Subscribing with a wildcard delivers every matching retained message
(and only those), each once with the retain flag."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    with Broker() as b:
        topics = ["rw/a", "rw/b", "rw/a/deep", "rx/a", "$rw/a"]
        for t in topics:
            pub(b.port, t, "v-" + t, qos=1, retain=True)
        for version in (V311, V5):
            for f, want in (("rw/+", ["rw/a", "rw/b"]),
                            ("rw/#", ["rw/a", "rw/b", "rw/a/deep"]),
                            ("+/a", ["rw/a", "rx/a"]),
                            ("#", ["rw/a", "rw/b", "rw/a/deep", "rx/a"])):
                s = raw.Client(b.port, version=version)
                s.connect("rwild-%d" % version)
                s.subscribe(f, qos=1)
                got = []
                for _ in want:
                    m = s.recv_publish(timeout=3.0)
                    check_eq((m.retain, m.payload),
                             (1, ("v-" + m.topic).encode()),
                             "retained message for %r" % f)
                    got.append(m.topic)
                s.expect_none(0.1)
                check_eq(sorted(got), sorted(want), "topics for %r" % f)
                s.disconnect()


main(test)
