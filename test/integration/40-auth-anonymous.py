#!/usr/bin/env python3
"""allow_anonymous: with a password_file, clients without a user name are
refused with CONNACK 0x87 (v5) / 5 (3.1.1) by default; an explicit
allow_anonymous true lets them in; with no password_file anonymous
clients are allowed, and allow_anonymous false refuses everyone (a user
name cannot be checked without a password file)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from authutil import *  # noqa: E402,F401,F403


def refused(port, version, rc, **kw):
    c = raw.Client(port, version=version)
    ack = c.connect("anon-%d" % version, rc=None, **kw)
    check_eq(ack.reason, rc, "CONNACK reason v%d %r" % (version, kw))
    check_eq(c.wait_closed(5.0), [], "closed after CONNACK")
    c.close()


def accepted(port, version, **kw):
    c = raw.Client(port, version=version)
    c.connect("anon-ok-%d" % version, **kw)
    c.ping()
    c.disconnect()


def test():
    tern_only("allow_anonymous")
    pw = password_file({"alice": "pw"})
    with Broker(conf=["password_file %s" % pw], name="default") as b:
        refused(b.port, V5, RC_NOT_AUTHORIZED)
        refused(b.port, V311, RC311_NOT_AUTHORIZED)
        # a v5 password without a user name proves nothing
        refused(b.port, V5, RC_NOT_AUTHORIZED, password=b"pw")
        accepted(b.port, V311, username="alice", password=b"pw")
        r = run([MOSQUITTO_SUB, "-h", HOST, "-p", str(b.port), "-t", "x",
                 "-C", "1", "-W", "3"], timeout=10)
        check(r.rc != 0 and "not authori" in r.err,
              "mosquitto_sub without -u refused: %r" % r)
        b.wait_log("refused: anonymous, and allow_anonymous is false")
    with Broker(conf=["allow_anonymous true", "password_file %s" % pw],
                name="explicit") as b:
        accepted(b.port, V5)
        accepted(b.port, V311)
        refused(b.port, V5, RC_BAD_USER_OR_PASSWORD, username="alice",
                password=b"bad")
    with Broker(name="none") as b:
        accepted(b.port, V5)
        accepted(b.port, V311, username="anyone", password=b"x")
    with Broker(conf=["allow_anonymous false"], name="closed") as b:
        refused(b.port, V311, RC311_NOT_AUTHORIZED)
        refused(b.port, V5, RC_NOT_AUTHORIZED, username="alice",
                password=b"pw")


main(test)
