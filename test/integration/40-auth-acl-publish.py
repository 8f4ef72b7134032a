#!/usr/bin/env python3
"""A PUBLISH the ACL does not allow: v5 gets PUBACK / PUBREC 0x87, 3.1.1
its normal acknowledgement flow; in both cases no subscriber gets the
message, it is not retained, QoS 0 is dropped quietly, the connection
stays up, and the denial is logged with client id, user and topic."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from authutil import *  # noqa: E402,F401,F403


ACL = """user alice
topic write out/alice/#
topic read out/#
user admin
topic readwrite #
"""


def test():
    tern_only("acl_file")
    pw = password_file({"alice": "a", "admin": "x"})
    acl = acl_file(ACL)
    with Broker(conf=["password_file %s" % pw, "acl_file %s" % acl]) as b:
        spy = raw.Client(b.port, version=V5)
        spy.connect("spy", username="admin", password=b"x")
        spy.subscribe([("#", 2)], mid=1)

        a5 = raw.Client(b.port, version=V5)
        a5.connect("alice-5", username="alice", password=b"a")
        ack = a5.publish("out/bob/x", b"v5-q1", qos=1, mid=10)
        check_eq(ack.reason, RC_NOT_AUTHORIZED, "v5 PUBACK")
        a5.send(raw.publish("out/bob/x", b"v5-q2", qos=2, mid=11,
                            version=V5))
        rec = a5.expect_ack(raw.PUBREC, 11)
        check_eq(rec.reason, RC_NOT_AUTHORIZED, "v5 PUBREC")
        a5.publish("out/bob/x", b"v5-q0", qos=0)
        a5.publish("out/bob/r", b"v5-retained", qos=1, retain=True, mid=12)
        a5.ping()

        a3 = raw.Client(b.port, version=V311)
        a3.connect("alice-3", username="alice", password=b"a")
        ack = a3.publish("out/bob/x", b"v3-q1", qos=1, mid=20)
        check_eq(ack.reason, 0, "3.1.1 PUBACK as usual")
        a3.publish("out/bob/x", b"v3-q2", qos=2, mid=21)  # full flow
        a3.publish("out/bob/x", b"v3-q0", qos=0)
        a3.ping()

        # a message alice may send marks the end: the spy must get it
        # first, with none of the denied ones before it
        ack = a5.publish("out/alice/ok", b"allowed", qos=1, mid=13)
        check_eq(ack.reason, 0, "allowed topic")
        m = spy.recv_publish(timeout=3.0)
        check_eq((m.topic, m.payload), ("out/alice/ok", b"allowed"),
                 "the spy's first message is the allowed one")
        spy.expect_none(0.3)

        late = raw.Client(b.port, version=V5)
        late.connect("late", username="admin", password=b"x")
        late.subscribe([("out/#", 1)], mid=2)
        late.expect_none(0.3)  # no retained message was stored

        b.wait_log("ACL: write denied to client alice-5 (user alice) on "
                   "out/bob/x")
        b.wait_log("ACL: write denied to client alice-3 (user alice) on "
                   "out/bob/x")
        check(a5.is_open() and a3.is_open(), "publishers still connected")
        for c in (a5, a3, spy, late):
            c.disconnect()


main(test)
