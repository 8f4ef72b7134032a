#!/usr/bin/env python3
"""ternctl passwd (password on stdin): creates the file (mode 0600),
adds users, replaces a user's line in place, keeps comments, deletes
with -D (exit 1 for a user that is not there), refuses bad input; a
broker restarted on the file accepts exactly the current passwords."""
import stat
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from authutil import *  # noqa: E402,F401,F403


def login(port, user, password):
    c = raw.Client(port, version=V311)
    ack = c.connect("tc-%s" % user, rc=None, username=user,
                    password=password.encode())
    c.close()
    return ack.reason


def test():
    tern_only("ternctl")
    path = tmp_path("passwd")
    set_password(path, "alice", "one")
    check_eq(stat.S_IMODE(os.stat(path).st_mode), 0o600, "mode 0600")
    with open(path, "a") as f:
        f.write("# a comment kept by ternctl\n")
    set_password(path, "bob", "two")
    set_password(path, "carol", "three")
    set_password(path, "bob", "two-b")
    lines = open(path).read().splitlines()
    check_eq([l.split(":")[0] for l in lines],
             ["alice", "# a comment kept by ternctl", "bob", "carol"],
             "order kept, bob replaced in place")
    check(all(l.startswith(u + ":$pbkdf2-sha512$1000$") for u, l in
              zip(("alice", "bob", "carol"), (lines[0], lines[2], lines[3]))),
          "hash lines: %r" % lines)
    r = ternctl("passwd", "-D", path, "carol", check_rc=0)
    check("carol:" not in open(path).read(), "carol deleted")
    r = ternctl("passwd", "-D", path, "carol")
    check_eq(r.rc, 1, "deleting a missing user fails")
    check("no user 'carol'" in r.err, "says why: %r" % r.err)
    for args, inp, why in ((["passwd", path, "a:b"], "x\n", "colon"),
                           (["passwd", path, ""], "x\n", "empty user"),
                           (["passwd", path, "dave"], "\n", "empty password"),
                           (["passwd", path, "dave"], "", "no input"),
                           (["passwd", "-i", "5", path, "dave"], "x\n",
                            "iterations")):
        r = ternctl(*args, input=inp)
        check(r.rc != 0, "refused: %s (%r)" % (why, r))
    check("dave" not in open(path).read(), "nothing written on errors")
    check_eq(sorted(f for f in os.listdir(os.path.dirname(path))
                    if f.startswith("passwd.")), [], "no temporary files")
    with Broker(conf=["password_file %s" % path]) as b:
        check_eq(login(b.port, "alice", "one"), 0, "alice")
        check_eq(login(b.port, "bob", "two-b"), 0, "bob's new password")
        check_eq(login(b.port, "bob", "two"), RC311_BAD_USER_OR_PASSWORD,
                 "bob's old password")
        check_eq(login(b.port, "carol", "three"), RC311_BAD_USER_OR_PASSWORD,
                 "deleted carol")


main(test)
