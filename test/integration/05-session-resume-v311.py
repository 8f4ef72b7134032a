#!/usr/bin/env python3
"""MQTT 3.1.1 persistent session (clean session 0): subscriptions are
kept while the client is offline, QoS 1 and 2 messages are queued and
delivered in order on reconnect; CONNACK session present is 0 the first
time and 1 on resume."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

N = 20


def test():
    with Broker() as b:
        c = raw.Client(b.port, version=V311)
        ack = c.connect("persist-311", clean=False)
        check_eq(ack.session_present, 0, "session present, new session")
        c.subscribe([("sess/q1", 1), ("sess/q2", 2)])
        c.disconnect()

        p = raw.Client(b.port, version=V311)
        p.connect("persist-311-pub")
        want = []
        for i in range(N):
            q = 1 + i % 2
            p.publish("sess/q%d" % q, b"%d" % i, qos=q, mid=i + 1)
            want.append(("sess/q%d" % q, b"%d" % i, q))
        p.disconnect()

        c = raw.Client(b.port, version=V311)
        ack = c.connect("persist-311", clean=False)
        check_eq(ack.session_present, 1, "session present on resume")
        got = []
        for _ in range(N):
            m = c.recv_publish(timeout=3.0)
            got.append((m.topic, m.payload, m.qos))
        check_eq(got, want, "queued messages")
        c.expect_none(0.1)
        # and the subscriptions are still there for live messages
        p = raw.Client(b.port, version=V311)
        p.connect("persist-311-pub")
        p.publish("sess/q1", b"live", qos=1)
        check_eq(c.recv_publish().payload, b"live", "live message")
        p.disconnect()
        c.disconnect()
        # clean up the session so that nothing is left
        c = raw.Client(b.port, version=V311)
        c.connect("persist-311", clean=True)
        c.disconnect()


main(test)
