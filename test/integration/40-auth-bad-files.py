#!/usr/bin/env python3
"""A missing, unreadable or malformed password_file or acl_file stops
ternd at start-up with exit status 1 and a message naming the file (and
the line), before it listens."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from authutil import *  # noqa: E402,F401,F403


def refuse(conf_lines, want, name):
    d = tmp_path(name)
    os.makedirs(d)
    conf = os.path.join(d, "ternd.conf")
    with open(conf, "w") as f:
        f.write("listener 0 127.0.0.1\n" + "".join(l + "\n"
                                                   for l in conf_lines))
    data = os.path.join(d, "data")
    r = run_ternd(["-c", conf, "-d", data], timeout=10)
    log("%s -> rc %r, stderr %r" % (name, r.rc, r.err.strip()))
    check_eq(r.rc, 1, "exit status (%s)" % name)
    check(want in r.err, "stderr has %r (%s): %r" % (want, name, r.err))
    check(not os.path.exists(os.path.join(data, "ternd.ready")),
          "no ready file (%s)" % name)


def test():
    tern_only("auth files")
    missing = tmp_path("nope")
    refuse(["password_file %s" % missing],
           "password_file: %s: cannot open: No such file" % missing,
           "pw-missing")
    bad = tmp_path("bad-passwd")
    with open(bad, "w") as f:
        f.write("# users\nalice:$pbkdf2-sha512$1000$c2FsdHNhbHQ=$x\n")
    refuse(["password_file %s" % bad], "%s:2: user 'alice': bad hash" % bad,
           "pw-bad")
    acl = acl_file("user alice\ntopic read a/#\ntopic bogus/#/x\n")
    refuse(["acl_file %s" % acl], "%s:3: invalid topic filter" % acl,
           "acl-bad")
    refuse(["acl_file %s" % missing], "acl_file: %s: cannot open" % missing,
           "acl-missing")
    if os.geteuid() != 0:
        unreadable = acl_file("topic read #\n", name="unreadable")
        os.chmod(unreadable, 0)
        refuse(["acl_file %s" % unreadable], "Permission denied",
               "acl-unreadable")


main(test)
