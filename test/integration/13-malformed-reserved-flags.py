#!/usr/bin/env python3
"""Wrong reserved fixed-header flags (SUBSCRIBE, UNSUBSCRIBE and PUBREL
with flags 0, PINGREQ with flags 1) and a CONNECT with the reserved flag
bit set are malformed: only that connection is closed (v5: DISCONNECT
0x81)."""
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
            cases = [
                ("SUBSCRIBE flags 0",
                 raw.subscribe(1, [("rf/t", 0)], version=version, flags=0)),
                ("UNSUBSCRIBE flags 0",
                 b"\xa0" + raw.unsubscribe(1, "rf/t", version=version)[1:]),
                ("PUBREL flags 0", b"\x60\x02\x00\x01"),
            ]
            # mosquitto 2.0.11 does not check the PINGREQ flags
            if not is_mosquitto():
                cases.append(("PINGREQ flags 1", b"\xc1\x00"))
            for what, pkt in cases:
                expect_rejected(b.port, pkt, version=version,
                                disconnect_rc=raw.RC_MALFORMED, what=what)
                by.check()
            # CONNECT flags with the reserved bit 0 set (clean + reserved)
            pkt = raw.connect("rsv-%d" % version, version=version,
                              flags_override=0x03)
            expect_rejected(b.port, pkt, version=version, connect=False,
                            what="CONNECT reserved flag")
            by.check()
        by.close()


main(test)
