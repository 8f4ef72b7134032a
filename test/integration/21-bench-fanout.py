#!/usr/bin/env python3
"""tern-bench fanout against a real ternd: 1 publisher -> 1 topic -> S
subscribers, QoS 0/1/2, MQTT 5 and 3.1.1. Counts only: every subscriber
receives every message once (received = sent x S, lost 0, duplicated
0)."""
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
            for qos in (0, 1, 2):
                what = "fanout v%s QoS %d" % (version, qos)
                d = bench(b.port, "fanout", "-V", version, "-q", qos,
                          "-S", 20, "-n", 500)
                check_eq(d["sent"], 500, what + ": sent")
                check_eq(d["subscribers"], 20, what + ": subscribers")
                check_eq(d["expected"], 500 * 20, what + ": expected")
                check_counts(d, what)
        d = bench(b.port, "fanout", "-q", 1, "-S", 50, "-d", 2)
        check(d["sent"] > 0, "fanout -d 2 sent something")
        check_counts(d, "fanout -d 2 QoS 1")
        # two publishers and two subscribers on one topic
        d = bench(b.port, "fanout", "-q", 2, "-P", 2, "-S", 2, "-n", 300)
        check_eq(d["expected"], 1200, "2x2 expected")
        check_counts(d, "fanout 2x2 QoS 2")


main(test)
