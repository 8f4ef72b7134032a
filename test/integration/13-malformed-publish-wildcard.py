#!/usr/bin/env python3
"""A PUBLISH to a topic name with a wildcard ('+' or '#') or an empty
topic (without topic alias) is refused: the connection is closed,
nothing is delivered; others keep working."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    with Broker() as b:
        by = Bystander(b.port)
        watch = raw.Client(b.port)
        watch.connect("wc-watch")
        watch.subscribe("#", qos=0)
        for version in (V311, V5):
            rcs = (raw.RC_MALFORMED, raw.RC_PROTOCOL_ERROR,
                   raw.RC_TOPIC_NAME_INVALID)
            for t in ("wc/+", "wc/#", "+", "#", ""):
                expect_rejected(b.port, raw.publish(t, b"w", qos=0,
                                                    version=version),
                                version=version, allowed_rc=rcs,
                                what="PUBLISH to %r" % t)
            by.check()
        while True:
            try:
                m = watch.recv_publish(timeout=0.2)
            except AssertionError:
                break
            check(m.topic.startswith("bystander/"), "unexpected message on "
                  "%r" % m.topic)
        watch.disconnect()
        by.close()


main(test)
