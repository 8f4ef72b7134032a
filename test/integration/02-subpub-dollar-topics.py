#!/usr/bin/env python3
"""Topics starting with '$' are not matched by a filter starting with
'#' or '+', but are matched by a filter naming the '$' level."""
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
            subs = {}
            for i, f in enumerate(["#", "+/x", "+", "$test/#", "$test"]):
                c = raw.Client(b.port, version=version)
                c.connect("dollar-%d-%d" % (version, i))
                c.subscribe(f, qos=1)
                subs[f] = c
            p = raw.Client(b.port, version=version)
            p.connect("dollar-pub-%d" % version)
            p.publish("$test/x", b"1", qos=1, mid=1)
            p.publish("$test", b"2", qos=1, mid=2)
            p.publish("plain/x", b"3", qos=1, mid=3)
            p.publish("plain", b"4", qos=1, mid=4)
            expect = {"#": ["plain/x", "plain"], "+/x": ["plain/x"],
                      "+": ["plain"], "$test/#": ["$test/x", "$test"],
                      "$test": ["$test"]}
            for f, c in subs.items():
                got = []
                # '#' may also see nothing else: this broker has only our
                # messages on non-$ topics
                for _ in expect[f]:
                    got.append(c.recv_publish(timeout=3.0).topic)
                c.expect_none(0.05)
                check_eq(sorted(got), sorted(expect[f]),
                         "v%d topics received by %r" % (version, f))
                c.disconnect()
            p.disconnect()


main(test)
