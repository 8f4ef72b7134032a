#!/usr/bin/env python3
"""A QoS 1 PUBLISH, a SUBSCRIBE or an UNSUBSCRIBE with packet id 0 is
a protocol violation: the connection is closed; others keep working."""
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
            rcs = (raw.RC_MALFORMED, raw.RC_PROTOCOL_ERROR)
            for what, pkt in (
                    ("PUBLISH QoS 1 id 0",
                     raw.publish(by.topic, b"z", qos=1, mid=0,
                                 version=version)),
                    ("SUBSCRIBE id 0",
                     raw.subscribe(0, [("z/t", 0)], version=version)),
                    ("UNSUBSCRIBE id 0",
                     raw.unsubscribe(0, "z/t", version=version))):
                expect_rejected(b.port, pkt, version=version,
                                allowed_rc=rcs, what=what)
            by.check()
            # SUBSCRIBE without any topic filter
            expect_rejected(b.port, raw.subscribe(3, [], version=version),
                            version=version, allowed_rc=rcs,
                            what="SUBSCRIBE without filter")
            by.check()
        by.close()


main(test)
