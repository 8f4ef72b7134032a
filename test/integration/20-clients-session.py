#!/usr/bin/env python3
"""tern-sub -c resumes a persistent session (MQTT 3.1.1 and 5): a
subscription made with -c -E survives the disconnect, QoS 1 messages
published meanwhile are delivered in order on the next -c connect
(session present 1); without -c the session is gone. MQTT 5: -c alone
means "never expires", -x 1 lets the session expire after a second."""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import Broker, check, check_eq, main  # noqa: E402
from clients import TernSub, tern_pub  # noqa: E402


def sub(port, cid, topic, version, args):
    with TernSub(port, topic, version=version, qos=1,
                 args=["-i", cid] + args) as s:
        rc = s.finish(timeout=20)
        return rc, s.lines(), s.err()


def test():
    with Broker() as b:
        for version in (4, 5):
            t = "im/u/alice-v%d" % version
            cid = "alice-v%d" % version
            rc, _, err = sub(b.port, cid, t, version, ["-c", "-E"])
            check_eq(rc, 0, "first -c -E")
            check("session present 0" in err, "new session: %s" % err)

            msgs = ["queued-%d" % i for i in range(10)]
            tern_pub(b.port, ["-t", t, "-q", "1", "-l"], version=version,
                     input="".join(m + "\n" for m in msgs))

            rc, lines, err = sub(b.port, cid, t, version,
                                 ["-c", "-C", "10", "-W", "10"])
            check_eq((rc, lines), (0, msgs), "resumed session (v%d)"
                     % version)
            check("session present 1" in err, "session present: %s" % err)

            # a clean connection ends the session
            rc, _, err = sub(b.port, cid, t, version, ["-E"])
            check("session present 0" in err, "clean start: %s" % err)
            tern_pub(b.port, ["-t", t, "-q", "1", "-m", "lost"],
                     version=version)
            rc, lines, err = sub(b.port, cid, t, version,
                                 ["-c", "-W", "1"])
            check_eq((rc, lines), (27, []), "no session after a clean "
                     "connect (v%d)" % version)

        # MQTT 5 session expiry interval
        t = "im/u/bob"
        rc, _, _ = sub(b.port, "bob", t, 5, ["-c", "-x", "1", "-E"])
        check_eq(rc, 0, "-x 1 -E")
        time.sleep(2.5)
        tern_pub(b.port, ["-t", t, "-q", "1", "-m", "late"], version=5)
        rc, lines, err = sub(b.port, "bob", t, 5, ["-c", "-W", "1"])
        check("session present 0" in err, "session expired: %s" % err)
        check_eq((rc, lines), (27, []), "nothing from an expired session")


main(test)
