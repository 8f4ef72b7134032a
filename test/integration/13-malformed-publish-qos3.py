#!/usr/bin/env python3
"""A PUBLISH with QoS 3 (both QoS bits set) is malformed: the
connection is closed (v5: DISCONNECT 0x81 first), nothing is delivered,
other clients keep working."""
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
        for version in (V311, V5):
            body = raw.mstr(by.topic) + raw.u16(1)
            if version == V5:
                body += b"\x00"
            pkt = raw.packet(raw.PUBLISH, 0x06, body + b"qos3")
            expect_rejected(b.port, pkt, version=version,
                            disconnect_rc=raw.RC_MALFORMED,
                            what="PUBLISH QoS 3")
            by.c.expect_none(0.1)
            by.check()
        by.close()


main(test)
