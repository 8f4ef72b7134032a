#!/usr/bin/env python3
"""A second CONNECT on a connection is a protocol violation: the
connection is closed (v5: a DISCONNECT, if any, has reason 0x82 or
0x81); other clients keep working."""
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
            pkt = raw.connect("second-%d" % version, version=version)
            expect_rejected(b.port, pkt, version=version,
                            client_id="second-%d" % version,
                            allowed_rc=(raw.RC_PROTOCOL_ERROR,
                                        raw.RC_MALFORMED),
                            what="second CONNECT")
            by.check()
        by.close()


main(test)
