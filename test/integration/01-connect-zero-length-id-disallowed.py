#!/usr/bin/env python3
"""allow_zero_length_clientid false: a 3.1.1 empty client id gets
CONNACK return code 2, a v5 one gets reason 0x85 (client identifier not
valid); a non-empty id still connects."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    with Broker(conf=["allow_zero_length_clientid false"]) as b:
        c = raw.Client(b.port, version=V311)
        ack = c.connect("", clean=True, rc=None)
        check_eq(ack.reason, 2, "3.1.1 CONNACK return code")
        c.wait_closed(3.0)

        c = raw.Client(b.port, version=V5)
        ack = c.connect("", clean=True, rc=None)
        # 0x85 (Client Identifier not valid) is a MAY; mosquitto uses 0x80
        check(ack.reason >= 0x80, "v5 CONNACK reason %#x is a failure"
              % ack.reason)
        if not is_mosquitto():
            check_eq(ack.reason, raw.RC_CLIENT_ID_NOT_VALID,
                     "v5 CONNACK reason")
        c.wait_closed(3.0)

        c = raw.Client(b.port, version=V5)
        c.connect("has-an-id")
        c.ping()
        c.disconnect()


main(test)
