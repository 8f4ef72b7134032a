#!/usr/bin/env python3
"""MQTT 3.1.1 session takeover: a second CONNECT with the same client id
closes the first connection; the second client works; with clean
session 0 the subscription carries over (session present 1)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    with Broker() as b:
        c1 = raw.Client(b.port, version=V311)
        c1.connect("taker", clean=False)
        c1.subscribe("to/t", qos=1)
        c2 = raw.Client(b.port, version=V311)
        ack = c2.connect("taker", clean=False)
        check_eq(ack.session_present, 1, "session present for the new "
                 "connection")
        got = c1.wait_closed(3.0)
        check_eq(got, [], "packets to the old 3.1.1 connection")
        p = raw.Client(b.port, version=V311)
        p.connect("taker-pub")
        p.publish("to/t", b"to-new", qos=1)
        m = c2.recv_publish()
        check_eq(m.payload, b"to-new", "message to the new connection")
        c2.ping()
        # a third takeover with clean session 1 drops the session
        c3 = raw.Client(b.port, version=V311)
        ack = c3.connect("taker", clean=True)
        check_eq(ack.session_present, 0, "session present, clean 1")
        c2.wait_closed(3.0)
        c3.disconnect()
        p.disconnect()


main(test)
