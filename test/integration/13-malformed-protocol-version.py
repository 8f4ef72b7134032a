#!/usr/bin/env python3
"""CONNECT with an unknown protocol level gets CONNACK 0x01 (3.1.1:
unacceptable protocol version) or 0x84 (v5: unsupported protocol version)
and is closed; a wrong protocol name is closed. Others keep working."""
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
        # level 6 with a 3.1.1-shaped body
        c = raw.Client(b.port, version=V311)
        body = raw.mstr("MQTT") + bytes([6, 2]) + raw.u16(60) + raw.mstr("l6")
        c.send(raw.packet(raw.CONNECT, 0, body))
        got = c.wait_closed(3.0)
        log("level 6: %r" % got)
        check(len(got) <= 1, "at most a CONNACK: %r" % got)
        if got:
            check_eq(got[0].type, raw.CONNACK, "packet type")
            check(got[0].reason in (0x01, 0x84), "CONNACK code %#x"
                  % got[0].reason)
        by.check()
        # wrong protocol name
        expect_rejected(b.port, raw.connect("name", proto_name="MQTX"),
                        connect=False, what="protocol name MQTX")
        by.check()
        # v3.1.1 level with the 3.1 name (mismatch)
        expect_rejected(b.port, raw.connect("mix", version=V311,
                                            proto_name="MQIsdp"),
                        connect=False, what="MQIsdp with level 4")
        by.check()
        by.close()


main(test)
