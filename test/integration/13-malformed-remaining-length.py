#!/usr/bin/env python3
"""A remaining length of more than 4 bytes, or one shorter than the
packet's own fields, is a malformed packet: that connection is closed (v5:
DISCONNECT 0x81 first); other clients keep working."""
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
            # five length bytes, all with the continuation bit but the last
            expect_rejected(b.port, b"\x30\xff\xff\xff\xff\x01" + b"x" * 16,
                            version=version, disconnect_rc=raw.RC_MALFORMED,
                            what="5-byte remaining length")
            by.check()
            # PUBLISH whose topic length runs past the remaining length
            expect_rejected(b.port, b"\x30\x04\x00\x10ab", version=version,
                            disconnect_rc=raw.RC_MALFORMED,
                            what="topic longer than the packet")
            by.check()
            # before CONNECT too: garbage length on a fresh connection
            expect_rejected(b.port, b"\x10\xff\xff\xff\xff\x01",
                            version=version, connect=False,
                            what="5-byte remaining length in CONNECT")
            by.check()
        by.close()


main(test)
