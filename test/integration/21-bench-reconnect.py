#!/usr/bin/env python3
"""tern-bench reconnect against a real ternd: K persistent sessions go
offline, n messages are queued for each, then they all reconnect at once.
Counts only: every session is resumed (session present) and gets its n
messages once (lost 0, duplicated 0), QoS 1 and 2, MQTT 5 and 3.1.1."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import Broker, check_eq, check, main, run, tern_only  # noqa: E402
from benchutil import bench, bench_path, check_counts  # noqa: E402


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
