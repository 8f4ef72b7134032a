#!/usr/bin/env python3
"""acl_file with "pattern read im/u/%u/#": a user subscribes to its own
inbox, and a subscription to another user's inbox gets 0x87 in a v5
SUBACK and 0x80 in a 3.1.1 SUBACK (per filter: the others of the same
SUBSCRIBE are granted); messages sent to the inbox arrive; the denial
is logged with client id, user name and filter."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from authutil import *  # noqa: E402,F401,F403


ACL = """# everyone: read their own inbox, write to any inbox
pattern read im/u/%u/#
pattern write im/u/+/#
user admin
topic readwrite #
"""


def test():
    tern_only("acl_file")
    pw = password_file({"alice": "a", "bob": "b", "admin": "x"})
    acl = acl_file(ACL)
    with Broker(conf=["password_file %s" % pw, "acl_file %s" % acl]) as b:
        a5 = raw.Client(b.port, version=V5)
        a5.connect("alice-5", username="alice", password=b"a")
        ack = a5.subscribe([("im/u/alice/#", 1), ("im/u/bob/#", 1),
                            ("im/u/+/inbox", 0), ("im/#", 0)], mid=3)
        check_eq(ack.codes, [1, RC_NOT_AUTHORIZED, RC_NOT_AUTHORIZED,
                             RC_NOT_AUTHORIZED], "v5 SUBACK codes")
        a3 = raw.Client(b.port, version=V311)
        a3.connect("alice-3", username="alice", password=b"a")
        ack = a3.subscribe([("im/u/bob/#", 1), ("im/u/alice/x", 1)], mid=4)
        check_eq(ack.codes, [RC311_SUBACK_FAILURE, 1], "3.1.1 SUBACK codes")
        b.wait_log("ACL: subscribe denied to client alice-5 (user alice) "
                   "on im/u/bob/#")
        b.wait_log("ACL: subscribe denied to client alice-3 (user alice) "
                   "on im/u/bob/#")

        bob = raw.Client(b.port, version=V5)
        bob.connect("bob-5", username="bob", password=b"b")
        ack = bob.publish("im/u/alice/x", b"hi alice", qos=1, mid=7)
        check_eq(ack.reason, 0, "bob writes to alice's inbox")
        for c, what in ((a5, "v5"), (a3, "3.1.1")):
            m = c.recv_publish(timeout=3.0)
            check_eq((m.topic, m.payload), ("im/u/alice/x", b"hi alice"),
                     "alice (%s) gets her message" % what)
        ack = bob.publish("im/u/bob/x", b"for bob", qos=1, mid=8)
        for c in (a5, a3):
            c.expect_none(0.3)
        for c in (a5, a3, bob):
            c.disconnect()


main(test)
