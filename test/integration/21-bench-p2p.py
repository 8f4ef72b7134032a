#!/usr/bin/env python3
"""tern-bench p2p against a real ternd: U users, each subscribed to its
own inbox im/u/<id> with a persistent session, each sending at a set rate
to random other inboxes. Counts only: every message reaches its one
recipient once (lost 0, duplicated 0, misrouted 0), QoS 1 and 2, MQTT 5
and 3.1.1."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import Broker, check_eq, check, main, tern_only  # noqa: E402
from benchutil import bench, check_counts  # noqa: E402


def test():
    tern_only("asserts tern's delivery counts")
    with Broker(["log_level warning"]) as b:
        for version in ("5", "311"):
            for qos in (1, 2):
                what = "p2p v%s QoS %d" % (version, qos)
                d = bench(b.port, "p2p", "-V", version, "-q", qos,
                          "-U", 50, "-r", 20, "-d", 2, "-s", 256)
                check(d["sent"] > 0, what + ": sent something")
                check_eq(d["publishers"], 50, what + ": publishers")
                check_eq(d["expected"], d["sent"], what + ": expected")
                check_counts(d, what)
        # by count: every user sends exactly n
        d = bench(b.port, "p2p", "-q", 1, "-U", 20, "-r", 50, "-n", 25)
        check_eq(d["sent"], 500, "p2p -n 25 sent")
        check_counts(d, "p2p -n 25")


main(test)
