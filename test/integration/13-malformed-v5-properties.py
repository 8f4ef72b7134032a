#!/usr/bin/env python3
"""MQTT 5 property errors: an unknown property id, a property length
running past the packet, a duplicated single-valued property, a
property not allowed in that packet: the connection is closed (with a
DISCONNECT 0x81 or 0x82 if any); others keep working."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    with Broker() as b:
        by = Bystander(b.port, version=5)
        rcs = (raw.RC_MALFORMED, raw.RC_PROTOCOL_ERROR)
        topic = raw.mstr("vp/t")
        cases = [
            ("unknown property 0x7F",
             raw.packet(raw.PUBLISH, 0, topic + b"\x02\x7f\x00" + b"p")),
            ("property length past the end",
             raw.packet(raw.PUBLISH, 0, topic + b"\x40\x01\x01")),
            ("duplicate payload format indicator",
             raw.packet(raw.PUBLISH, 0, topic + b"\x04\x01\x01\x01\x01p")),
            ("session expiry in PUBLISH",
             raw.packet(raw.PUBLISH, 0, topic + b"\x05\x11\x00\x00\x00\x01")),
            ("string property with bad UTF-8",
             raw.packet(raw.PUBLISH, 0, topic + b"\x05\x03\x00\x02\xc3\x28")),
        ]
        for what, pkt in cases:
            expect_rejected(b.port, pkt, version=5, allowed_rc=rcs, what=what)
            by.check()
        # CONNECT with a duplicated session expiry interval
        body = (raw.mstr("MQTT") + bytes([5, 2]) + raw.u16(60) +
                b"\x0a\x11\x00\x00\x00\x01\x11\x00\x00\x00\x02" +
                raw.mstr("dupprop"))
        got = expect_rejected(b.port, raw.packet(raw.CONNECT, 0, body),
                              version=5, connect=False,
                              what="CONNECT duplicate property")
        for p in got:
            if p.type == raw.CONNACK:
                check(p.reason >= 0x80, "CONNACK is a refusal: %r" % p)
        by.check()
        by.close()


main(test)
