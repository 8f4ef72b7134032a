#!/usr/bin/env python3
"""tern-bench reconnect against a real ternd: K persistent sessions go
offline, n messages are queued for each, then they all reconnect at once.
Counts only: every session is resumed (session present) and gets its n
messages once (lost 0, duplicated 0), QoS 1 and 2, MQTT 5 and 3.1.1."""
import json
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import (Broker, HarnessError, check_eq, check, free_port, main,
                     run, tern_only)  # noqa: E402


def bench_path():
    p = os.path.join(os.environ.get("TERN_BUILDDIR", ""), "clients",
                     "tern-bench")
    if not os.access(p, os.X_OK):
        raise HarnessError("tern-bench not built: %s" % p)
    return p


def bench(port, *args, timeout=60, rc=0):
    r = run([bench_path()] + [str(a) for a in args] +
            ["-p", str(port), "--json", "--quiet"], timeout=timeout)
    check_eq(r.rc, rc, "tern-bench exit status (%s)\n%s\n%s"
             % (" ".join(str(a) for a in args), r.out, r.err))
    d = json.loads(r.out.strip().splitlines()[-1])
    check_eq(d["status"], 0, "status (%s)" % d.get("error"))
    return d


def check_counts(d, what):
    check_eq(d["duplicated"], 0, what + ": duplicated")
    check_eq(d["lost"], 0, what + ": lost")
    check_eq(d["received"], d["expected"], what + ": received")
    check_eq(d["stale"] + d["bogus"] + d["misrouted"], 0,
             what + ": stale/bogus/misrouted")
    if d["qos"] > 0:
        check_eq(d["acked"], d["sent"], what + ": acked")
        check_eq(d["refused"], 0, what + ": refused")


def test():
    tern_only("asserts tern's delivery counts")
    with Broker(["log_level warning"]) as b:
        for version in ("5", "311"):
            for qos in (1, 2):
                what = "reconnect v%s QoS %d" % (version, qos)
                d = bench(b.port, "reconnect", "-V", version, "-q", qos,
                          "-K", 60, "-n", 5)
                check_eq(d["sessions"], 60, what + ": sessions")
                check_eq(d["sessions_present"], 60,
                         what + ": sessions present")
                check_eq(d["sessions_complete"], 60,
                         what + ": sessions complete")
                check_eq(d["sent"], 300, what + ": sent")
                check_counts(d, what)
        r = run([bench_path(), "reconnect", "-p", str(b.port), "-q", "0"],
                timeout=10)
        check(r.rc != 0, "reconnect at QoS 0 is refused")


main(test)
