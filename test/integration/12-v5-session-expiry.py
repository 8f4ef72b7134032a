#!/usr/bin/env python3
"""MQTT 5 session expiry: a session with expiry 1 s is gone after it
expires (session present 0, nothing queued); one with expiry 60 s is
still there."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
import time  # noqa: E402


def test():
    with Broker() as b:
        for cid, exp in (("se-short", 1), ("se-long", 60)):
            c = raw.Client(b.port, version=V5)
            c.connect(cid, clean=True,
                      properties={"session_expiry_interval": exp})
            c.subscribe("se/t", qos=1)
            c.disconnect()
        p = raw.Client(b.port, version=V5)
        p.connect("se-pub")
        p.publish("se/t", b"q", qos=1)
        p.disconnect()
        time.sleep(2.5)    # let the 1 s session expire (nothing to poll)
        c = raw.Client(b.port, version=V5)
        ack = c.connect("se-short", clean=False,
                        properties={"session_expiry_interval": 1})
        check_eq(ack.session_present, 0, "expired session: session present")
        c.expect_none(0.2)
        c.disconnect()
        c = raw.Client(b.port, version=V5)
        ack = c.connect("se-long", clean=False,
                        properties={"session_expiry_interval": 60})
        check_eq(ack.session_present, 1, "live session: session present")
        check_eq(c.recv_publish(timeout=3.0).payload, b"q", "queued message")
        c.disconnect(rc=0)
        c = raw.Client(b.port, version=V5)
        c.connect("se-long", clean=True)
        c.disconnect()


main(test)
