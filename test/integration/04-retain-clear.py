#!/usr/bin/env python3
"""A retained PUBLISH with an empty payload clears the retained message
(and is delivered to current subscribers); later subscribers get
nothing."""
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
            topic = "ret/clear/%d" % version
            pub(b.port, topic, "soon-gone", qos=1, retain=True,
                version=version)
            s = raw.Client(b.port, version=version)
            s.connect("rc-live-%d" % version)
            s.subscribe(topic, qos=1)
            check_eq(s.recv_publish(timeout=3.0).payload, b"soon-gone",
                     "retained message before clearing")
            pub(b.port, topic, None, null=True, qos=1, retain=True,
                version=version)
            m = s.recv_publish(timeout=3.0)
            check_eq((m.topic, m.payload), (topic, b""),
                     "empty message to the current subscriber")
            s.disconnect()

            s = raw.Client(b.port, version=version)
            s.connect("rc-late-%d" % version)
            s.subscribe([(topic, 1), ("ret/clear/#", 1)])
            # a marker published after the subscription proves that a
            # retained message would have come already
            pub(b.port, "ret/clear/marker", "m", qos=1, version=version)
            m = s.recv_publish(timeout=3.0)
            check_eq(m.topic, "ret/clear/marker",
                     "first message after clearing (no retained message)")
            s.expect_none(0.1)
            s.disconnect()


main(test)
