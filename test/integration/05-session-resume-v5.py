#!/usr/bin/env python3
"""MQTT 5 persistent session (clean start 0, session expiry 300):
subscriptions kept, QoS 1/2 messages queued while offline and delivered
in order on reconnect; CONNACK session present correct."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

N = 20
PROPS = {"session_expiry_interval": 300}


def test():
    with Broker() as b:
        c = raw.Client(b.port, version=V5)
        ack = c.connect("persist-5", clean=True, properties=PROPS)
        check_eq(ack.session_present, 0, "session present, clean start 1")
        c.subscribe([("s5/q1", 1), ("s5/q2", 2)])
        c.disconnect()

        p = raw.Client(b.port, version=V5)
        p.connect("persist-5-pub")
        want = []
        for i in range(N):
            q = 1 + i % 2
            p.publish("s5/q%d" % q, b"%d" % i, qos=q, mid=i + 1)
            want.append(("s5/q%d" % q, b"%d" % i, q))
        p.disconnect()

        c = raw.Client(b.port, version=V5)
        ack = c.connect("persist-5", clean=False, properties=PROPS)
        check_eq(ack.session_present, 1, "session present on resume")
        got = []
        for _ in range(N):
            m = c.recv_publish(timeout=3.0)
            got.append((m.topic, m.payload, m.qos))
        check_eq(got, want, "queued messages")
        c.expect_none(0.1)
        c.disconnect()

        # a new connection with clean start 1 must not see the session
        c = raw.Client(b.port, version=V5)
        ack = c.connect("persist-5", clean=True)
        check_eq(ack.session_present, 0, "session present with clean start")
        c.disconnect()


main(test)
