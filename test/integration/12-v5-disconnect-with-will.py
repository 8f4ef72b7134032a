#!/usr/bin/env python3
"""MQTT 5 DISCONNECT with reason 0x04 (disconnect with will message)
publishes the will; reason 0x00 does not."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    with Broker() as b:
        s = raw.Client(b.port, version=V5)
        s.connect("dw-watch")
        s.subscribe("dw/#", qos=1)
        c = raw.Client(b.port, version=V5)
        c.connect("dw-normal", will=("dw/normal", b"no", 1, False))
        c.disconnect(rc=0)
        c = raw.Client(b.port, version=V5)
        c.connect("dw-with-will", will=("dw/with", b"yes", 1, False))
        c.disconnect(rc=0x04)
        m = s.recv_publish(timeout=3.0)
        check_eq((m.topic, m.payload), ("dw/with", b"yes"), "will published")
        s.expect_none(0.2)
        s.disconnect()


main(test)
