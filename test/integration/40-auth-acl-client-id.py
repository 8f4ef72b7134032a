#!/usr/bin/env python3
"""A pattern with %c: each client may publish and subscribe under
dev/<its client id>/ only; a client id holding '/' or '+' does not stand
in for %c. Anonymous clients (no password file) are subject to it."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from authutil import *  # noqa: E402,F401,F403


ACL = "pattern readwrite dev/%c/#\n"


def test():
    tern_only("acl_file")
    acl = acl_file(ACL)
    with Broker(conf=["acl_file %s" % acl]) as b:
        d1 = raw.Client(b.port, version=V5)
        d1.connect("dev1")
        check_eq(d1.subscribe([("dev/dev1/#", 1), ("dev/dev2/#", 1)],
                              mid=1).codes, [1, RC_NOT_AUTHORIZED],
                 "SUBACK: own subtree only")
        check_eq(d1.publish("dev/dev2/cmd", b"x", qos=1, mid=2).reason,
                 RC_NOT_AUTHORIZED, "publish under another id")
        check_eq(d1.publish("dev/dev1/state", b"up", qos=1, mid=3).reason,
                 0, "publish under its own id")
        m = d1.recv_publish(timeout=3.0)
        check_eq((m.topic, m.payload), ("dev/dev1/state", b"up"),
                 "own message delivered")
        d2 = raw.Client(b.port, version=V311)
        d2.connect("dev2")
        check_eq(d2.subscribe([("dev/dev2/#", 1)], mid=1).codes, [1],
                 "dev2 subscribes to its own subtree")
        d2.publish("dev/dev1/state", b"spoof", qos=1, mid=4)
        d1.expect_none(0.3)
        b.wait_log("ACL: write denied to client dev2 (user <anonymous>) on "
                   "dev/dev1/state")
        odd = raw.Client(b.port, version=V5)
        odd.connect("a/b")
        check_eq(odd.publish("dev/a/b/x", b"x", qos=1, mid=5).reason,
                 RC_NOT_AUTHORIZED, "client id with '/' gets no %c rights")
        for c in (d1, d2, odd):
            c.disconnect()


main(test)
