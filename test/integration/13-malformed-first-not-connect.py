#!/usr/bin/env python3
"""A first packet that is not CONNECT (PUBLISH, SUBSCRIBE, PINGREQ) makes
the broker close the connection without any CONNACK; other clients keep
working."""
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
        cases = [
            ("PINGREQ first", raw.pingreq()),
            ("PUBLISH first", raw.publish(by.topic, b"sneaky", qos=0)),
            ("SUBSCRIBE first", raw.subscribe(1, [("#", 0)])),
            ("DISCONNECT first", raw.disconnect()),
        ]
        for what, pkt in cases:
            got = expect_rejected(b.port, pkt, connect=False, what=what)
            check_eq(got, [], "%s: packets before close" % what)
            by.check()
        by.close()


main(test)
