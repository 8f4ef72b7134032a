#!/usr/bin/env python3
"""A second retained message on a topic replaces the first: a new
subscriber gets only the latest one."""
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
            topic = "ret/replace/%d" % version
            pub(b.port, topic, "first", qos=1, retain=True, version=version)
            pub(b.port, topic, "second", qos=0, retain=True, version=version)
            pub(b.port, topic, "third", qos=2, retain=True, version=version)
            s = raw.Client(b.port, version=version)
            s.connect("rr-%d" % version)
            s.subscribe(topic, qos=2)
            m = s.recv_publish(timeout=3.0)
            check_eq((m.payload, m.retain, m.qos), (b"third", 1, 2),
                     "retained message")
            s.expect_none(0.2)
            s.disconnect()


main(test)
