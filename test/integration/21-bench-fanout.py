#!/usr/bin/env python3
"""tern-bench fanout against a real ternd: 1 publisher -> 1 topic -> S
subscribers, QoS 0/1/2, MQTT 5 and 3.1.1. Counts only: every subscriber
receives every message once (received = sent x S, lost 0, duplicated
0)."""
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
