#!/usr/bin/env python3
"""SIGHUP reloads the password file: a user added with ternctl can log in
after SIGHUP (not before), a deleted one no longer can, a changed
password takes effect (also for a user whose earlier success is
remembered); a file broken before SIGHUP is refused, logged, and the
previous users stay; connected clients stay connected."""
import signal
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from authutil import *  # noqa: E402,F401,F403


def login(port, user, password):
    c = raw.Client(port, version=V5)
    ack = c.connect("hup-%s" % user, rc=None, username=user,
                    password=password.encode())
    c.close()
    return ack.reason


def hup(b, text):
    n = b.log().count(text)
    b.signal(signal.SIGHUP)
    wait_for(lambda: b.log().count(text) > n, 5, "%r after SIGHUP" % text)


def test():
    tern_only("SIGHUP reload")
    path = password_file({"alice": "a1", "bob": "b1"})
    with Broker(conf=["password_file %s" % path]) as b:
        check_eq(login(b.port, "alice", "a1"), 0, "alice")
        check_eq(login(b.port, "bob", "b1"), 0, "bob")
        stay = raw.Client(b.port, version=V311)
        stay.connect("stays", username="bob", password=b"b1")
        set_password(path, "carol", "c1")
        set_password(path, "alice", "a2")
        ternctl("passwd", "-D", path, "bob", check_rc=0)
        check_eq(login(b.port, "carol", "c1"), RC_BAD_USER_OR_PASSWORD,
                 "carol not known before SIGHUP")
        hup(b, "reloaded: 2 users")
        check_eq(login(b.port, "carol", "c1"), 0, "carol after SIGHUP")
        check_eq(login(b.port, "alice", "a1"), RC_BAD_USER_OR_PASSWORD,
                 "alice's old password (remembered before) refused")
        check_eq(login(b.port, "alice", "a2"), 0, "alice's new password")
        check_eq(login(b.port, "bob", "b1"), RC_BAD_USER_OR_PASSWORD,
                 "deleted bob")
        stay.ping()

        with open(path, "a") as f:
            f.write("broken line\n")
        hup(b, "password_file not reloaded, keeping the previous users")
        check("%s:3: expected user:hash" % path in b.log(),
              "FILE:LINE of the error in the log")
        check_eq(login(b.port, "carol", "c1"), 0, "old table kept")
        os.unlink(path)
        hup(b, "password_file not reloaded, keeping the previous users")
        check_eq(login(b.port, "alice", "a2"), 0, "kept when file missing")
        stay.ping()
        stay.disconnect()


main(test)
