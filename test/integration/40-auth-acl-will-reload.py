#!/usr/bin/env python3
"""A will is checked again when it is published: a client whose right to
write its will topic was revoked by an ACL reload (SIGHUP) after its
CONNECT goes away, and its will is not published (logged instead). A
client whose right remains still gets its will published. Both protocol
versions."""
import os
import signal
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from authutil import *  # noqa: E402,F401,F403

BEFORE = """user alice
topic write status/alice
user carol
topic write status/carol
user admin
topic readwrite #
"""
AFTER = """user alice
topic write chat/alice
user carol
topic write status/carol
user admin
topic readwrite #
"""


def test():
    tern_only("acl_file")
    pw = password_file({"alice": "a", "carol": "c", "admin": "x"})
    acl = acl_file(BEFORE)
    with Broker(conf=["password_file %s" % pw, "acl_file %s" % acl]) as b:
        spy = raw.Client(b.port, version=V5)
        spy.connect("spy", username="admin", password=b"x")
        spy.subscribe([("status/#", 1)], mid=1)
        clients = {}
        for v in (V311, V5):
            for user, pwd in (("alice", b"a"), ("carol", b"c")):
                c = raw.Client(b.port, version=v)
                c.connect("%s-%d" % (user, v), username=user, password=pwd,
                          will=("status/%s" % user, b"offline-%d" % v, 1,
                                False))
                clients[(user, v)] = c
        with open(acl, "w") as f:
            f.write(AFTER)
        n = b.log().count("ACL reloaded")
        b.signal(signal.SIGHUP)
        wait_for(lambda: b.log().count("ACL reloaded") > n, 5,
                 "the ACL reloaded")
        for c in clients.values():
            c.abort()
        got = []
        for _ in range(2):
            m = spy.recv_publish(timeout=5.0)
            got.append((m.topic, m.payload))
        spy.expect_none(0.5)
        log("wills published: %r" % got)
        check_eq(sorted(got), [("status/carol", b"offline-4"),
                               ("status/carol", b"offline-5")],
                 "wills published after the reload (alice's was revoked)")
        b.wait_log("not published: the client may no longer write there")
        spy.disconnect()


main(test)
