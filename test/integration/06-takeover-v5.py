#!/usr/bin/env python3
"""MQTT 5 session takeover: the first connection gets DISCONNECT 0x8E
(session taken over) and is closed; the second works and keeps the
session (clean start 0, session expiry > 0). The session goes on, so the
takeover is a reconnect: the old connection's will is not published
(3.1.2.5; 07-will-takeover.py covers the other cases)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    with Broker() as b:
        w = raw.Client(b.port, version=V5)
        w.connect("takeover-watch")
        w.subscribe("to5/will", qos=1)
        props = {"session_expiry_interval": 60}
        c1 = raw.Client(b.port, version=V5)
        c1.connect("taker5", clean=True, properties=props,
                   will=("to5/will", b"taken", 1, False))
        c1.subscribe("to5/t", qos=1)
        c2 = raw.Client(b.port, version=V5)
        ack = c2.connect("taker5", clean=False, properties=props)
        check_eq(ack.session_present, 1, "session present")
        got = c1.wait_closed(3.0)
        if is_mosquitto() and not got:
            log("mosquitto 2.0.11 sends no DISCONNECT 0x8E")
        else:
            check(len(got) == 1 and got[0].type == raw.DISCONNECT,
                  "old connection gets one DISCONNECT: %r" % got)
            check_eq(got[0].reason, raw.RC_SESSION_TAKEN_OVER,
                     "DISCONNECT reason")
        w.publish("to5/t", b"to-new", qos=1)
        m = c2.recv_publish()
        check_eq(m.payload, b"to-new", "message to the new connection")
        w.expect_none(0.3)  # no will: the session went on
        c2.disconnect()
        # end the session
        c3 = raw.Client(b.port, version=V5)
        c3.connect("taker5", clean=True)
        c3.disconnect()
        w.disconnect()


main(test)
