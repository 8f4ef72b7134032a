#!/usr/bin/env python3
"""A QoS 1 (and QoS 2) message sent to a persistent client that closes
without acknowledging it is resent on resume with DUP=1 and the same
packet id; once acknowledged it is not sent again."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def one(b, version):
    cid = "inflight-%d" % version
    props = {"session_expiry_interval": 300} if version == V5 else None
    c = raw.Client(b.port, version=version)
    c.connect(cid, clean=False, properties=props)
    c.subscribe([("if/q1", 1), ("if/q2", 2)])
    p = raw.Client(b.port, version=version)
    p.connect(cid + "-pub")
    p.publish("if/q1", b"one", qos=1, mid=1)
    p.publish("if/q2", b"two", qos=2, mid=2)
    m1 = c.expect(raw.PUBLISH)
    m2 = c.expect(raw.PUBLISH)
    check_eq([(m.payload, m.qos, m.dup) for m in (m1, m2)],
             [(b"one", 1, 0), (b"two", 2, 0)], "first delivery")
    c.abort()      # no PUBACK, no PUBREC, no DISCONNECT

    c = raw.Client(b.port, version=version)
    ack = c.connect(cid, clean=False, properties=props)
    check_eq(ack.session_present, 1, "session present")
    r1 = c.expect(raw.PUBLISH)
    r2 = c.expect(raw.PUBLISH)
    check_eq([(m.payload, m.qos, m.dup, m.mid) for m in (r1, r2)],
             [(b"one", 1, 1, m1.mid), (b"two", 2, 1, m2.mid)],
             "v%d resent messages (payload, qos, dup, packet id)" % version)
    c.ack(r1)
    c.ack(r2)
    c.expect_none(0.1)
    c.disconnect()

    # acknowledged: nothing comes on the next resume
    c = raw.Client(b.port, version=version)
    c.connect(cid, clean=False, properties=props)
    c.subscribe("if/marker", qos=1)
    p.publish("if/marker", b"m", qos=1, mid=3)
    m = c.recv_publish(timeout=3.0)
    check_eq(m.topic, "if/marker", "nothing resent after the acks")
    c.disconnect()
    p.disconnect()
    c = raw.Client(b.port, version=version)
    c.connect(cid, clean=True)
    c.disconnect()


def test():
    with Broker() as b:
        one(b, V311)
        one(b, V5)


main(test)
