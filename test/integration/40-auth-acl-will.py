#!/usr/bin/env python3
"""A will is checked as a write at CONNECT: a will topic the client may
not publish to refuses the CONNECT with 0x87 (v5) / 5 (3.1.1); an allowed
will is accepted and published when the client goes away."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from authutil import *  # noqa: E402,F401,F403


ACL = """user alice
topic write status/alice
user admin
topic readwrite #
"""


def test():
    tern_only("acl_file")
    pw = password_file({"alice": "a", "admin": "x"})
    acl = acl_file(ACL)
    with Broker(conf=["password_file %s" % pw, "acl_file %s" % acl]) as b:
        for v, rc in ((V5, RC_NOT_AUTHORIZED), (V311, RC311_NOT_AUTHORIZED)):
            c = raw.Client(b.port, version=v)
            ack = c.connect("will-%d" % v, rc=None, username="alice",
                            password=b"a",
                            will=("status/bob", b"gone", 1, False))
            check_eq(ack.reason, rc, "CONNACK v%d for a denied will" % v)
            check_eq(c.wait_closed(5.0), [], "closed after CONNACK")
            c.close()
        b.wait_log("client 'will-5' (127.0.0.1")
        b.wait_log("refused: will topic not allowed")

        spy = raw.Client(b.port, version=V5)
        spy.connect("spy", username="admin", password=b"x")
        spy.subscribe([("status/#", 1)], mid=1)
        c = raw.Client(b.port, version=V311)
        c.connect("will-ok", username="alice", password=b"a",
                  will=("status/alice", b"offline", 1, False))
        c.abort()
        m = spy.recv_publish(timeout=5.0)
        check_eq((m.topic, m.payload), ("status/alice", b"offline"),
                 "allowed will published")
        spy.disconnect()


main(test)
