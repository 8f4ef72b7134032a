#!/usr/bin/env python3
"""MQTT 3.1.1, zero-length client id: accepted with clean session 1,
rejected with CONNACK return code 2 (identifier rejected) with clean
session 0, and the connection is closed."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    with Broker() as b:
        c = raw.Client(b.port, version=V311)
        ack = c.connect("", clean=True)
        check_eq(ack.session_present, 0, "session present")
        # the accepted client works
        c.subscribe("empty/id", qos=1)
        c.publish("empty/id", b"x", qos=1)
        check_eq(c.recv_publish().payload, b"x", "payload")
        c.disconnect()

        c = raw.Client(b.port, version=V311)
        ack = c.connect("", clean=False, rc=None)
        check_eq(ack.reason, 2, "CONNACK return code, empty id + clean 0")
        check_eq(ack.session_present, 0, "session present with rc 2")
        c.wait_closed(3.0)
        c.close()


main(test)
