#!/usr/bin/env python3
"""A will with the retain flag becomes the retained message of its topic
(3.1.1 and 5)."""
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
            topic = "wr/%d/status" % version
            c = raw.Client(b.port, version=version)
            c.connect("wr-%d" % version, will=(topic, b"offline", 1, True))
            c.ping()
            c.abort()
            # a later subscriber gets it as a retained message
            def retained():
                s = raw.Client(b.port, version=version)
                s.connect("wr-late-%d" % version)
                s.subscribe(topic, qos=1)
                try:
                    m = s.recv_publish(timeout=0.3)
                except AssertionError:
                    m = None
                s.disconnect()
                return m
            m = wait_for(retained, 3.0, "retained will")
            check_eq((m.payload, m.retain), (b"offline", 1),
                     "retained will")


main(test)
