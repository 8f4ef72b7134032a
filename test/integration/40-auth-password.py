#!/usr/bin/env python3
"""password_file: the right password is accepted (raw v5 and 3.1.1,
mosquitto_pub -u/-P); a wrong password, an unknown user and a user name
without a password are refused with CONNACK 0x86 (v5) / return code 4
(3.1.1), and the connection is closed. The file is made by ternctl with
its default iteration count, so this is the full PBKDF2 path."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from authutil import *  # noqa: E402,F401,F403


def test():
    tern_only("password_file")
    pw = password_file({"alice": "s3cret", "bob": "hunter2"},
                       iterations=None)
    check("$pbkdf2-sha512$100000$" in open(pw).read(),
          "ternctl used the default iteration count")
    with Broker(conf=["password_file %s" % pw]) as b:
        for v in (V5, V311):
            c = raw.Client(b.port, version=v)
            c.connect("ok-%d" % v, username="alice", password=b"s3cret")
            c.ping()
            c.disconnect()
        r = pub(b.port, "t", "m", extra=["-u", "bob", "-P", "hunter2"])
        check_eq(r.rc, 0, "mosquitto_pub with the right password")

        bad = ((dict(username="alice", password=b"wrong"), "wrong password"),
               (dict(username="alice", password=b"s3cre"), "prefix"),
               (dict(username="carol", password=b"s3cret"), "unknown user"),
               (dict(username="alice"), "no password"))
        for v, rc in ((V5, RC_BAD_USER_OR_PASSWORD),
                      (V311, RC311_BAD_USER_OR_PASSWORD)):
            for kw, what in bad:
                c = raw.Client(b.port, version=v)
                ack = c.connect("bad-%d" % v, rc=None, **kw)
                check_eq(ack.reason, rc, "CONNACK v%d for %s" % (v, what))
                check_eq(c.wait_closed(5.0), [],
                         "closed after the refusal (v%d, %s)" % (v, what))
                c.close()
        for vflag, rc in ((4, 4), (5, 134)):
            r = run([MOSQUITTO_PUB, "-V", {4: "mqttv311", 5: "mqttv5"}[vflag],
                     "-h", HOST, "-p", str(b.port), "-t", "t", "-m", "m",
                     "-u", "alice", "-P", "nope"], timeout=10)
            log("mosquitto_pub v%d wrong password: rc %r %r"
                % (vflag, r.rc, r.err.strip()))
            check_eq(r.rc, rc, "mosquitto_pub v%d exit status (the "
                     "CONNACK code)" % vflag)
            check("bad user name or password" in r.err.lower(),
                  "mosquitto_pub v%d says bad user name or password: %r"
                  % (vflag, r.err))
        b.wait_log("refused: wrong password for user 'alice'")
        b.wait_log("refused: unknown user for user 'carol'")
        b.wait_log("refused: no password for user 'alice'")


main(test)
