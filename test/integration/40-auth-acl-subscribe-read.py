#!/usr/bin/env python3
"""The subscribe right is distinct from read: with "subscribe im/#" and
"read im/u/%u/#" a client may subscribe to im/# and receives only its
own inbox, online and from the queue of its persistent session while it
was offline (denied messages take no queue room); '#' is still refused
(not covered by im/#)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from authutil import *  # noqa: E402,F401,F403


ACL = """pattern subscribe im/#
pattern read im/u/%u/#
user admin
topic readwrite #
"""


def test():
    tern_only("acl_file")
    pw = password_file({"alice": "a", "admin": "x"})
    acl = acl_file(ACL)
    conf = ["password_file %s" % pw, "acl_file %s" % acl,
            "max_queued_messages 3"]
    with Broker(conf=conf) as b:
        al = raw.Client(b.port, version=V5)
        al.connect("alice", clean=False, username="alice", password=b"a",
                   properties={"session_expiry_interval": 600})
        check_eq(al.subscribe([("im/#", 1), ("#", 1)], mid=1).codes,
                 [1, RC_NOT_AUTHORIZED], "im/# granted, # refused")
        ad = raw.Client(b.port, version=V5)
        ad.connect("admin", username="admin", password=b"x")
        ad.publish("im/u/bob/1", b"bob's", qos=1, mid=1)
        ad.publish("im/u/alice/1", b"alice's", qos=1, mid=2)
        m = al.recv_publish(timeout=3.0)
        check_eq((m.topic, m.payload), ("im/u/alice/1", b"alice's"),
                 "online: only her inbox")
        al.expect_none(0.3)
        al.disconnect()

        # offline: 5 denied messages, then 2 allowed; the queue holds 3
        for i in range(5):
            ad.publish("im/u/bob/q%d" % i, b"no", qos=1, mid=10 + i)
        ad.publish("im/u/alice/q1", b"yes-1", qos=1, mid=20)
        ad.publish("im/u/alice/q2", b"yes-2", qos=1, mid=21)
        al = raw.Client(b.port, version=V5)
        ack = al.connect("alice", clean=False, username="alice",
                         password=b"a",
                         properties={"session_expiry_interval": 600})
        check_eq(ack.session_present, 1, "session resumed")
        got = [(m.topic, m.payload) for m in
               (al.recv_publish(timeout=3.0), al.recv_publish(timeout=3.0))]
        check_eq(got, [("im/u/alice/q1", b"yes-1"),
                       ("im/u/alice/q2", b"yes-2")],
                 "queued while offline: her inbox only, none crowded out")
        al.expect_none(0.3)
        check("queue of alice full" not in b.log(),
              "denied messages took no queue room")
        al.disconnect()
        ad.disconnect()


main(test)
