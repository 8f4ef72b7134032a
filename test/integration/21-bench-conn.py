#!/usr/bin/env python3
"""tern-bench conn against a real ternd: K idle connections held for a
while, with --pid so that the broker's RSS is read. Counts only: every
connection is made (connections = K, status 0), the RSS figures are
present; with --subscribe each client also subscribes."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import Broker, check_eq, check, main, run, tern_only  # noqa: E402
from benchutil import bench, bench_path  # noqa: E402


def test():
    tern_only("reads ternd's RSS")
    with Broker(["log_level warning"]) as b:
        for extra in ([], ["--subscribe", "-V", "311"]):
            d = bench(b.port, "conn", "-K", 300, "-d", 1, "--pid",
                      b.proc.pid, *extra)
            check_eq(d["connections"], 300, "connections %r" % extra)
            check(d["connect_rate"] > 0, "connect rate")
            check(d["rss_before_kb"] > 0, "RSS before")
            check(d["rss_after_kb"] > 0, "RSS after")
            check("kb_per_conn" in d, "kb_per_conn reported")
        r = run([bench_path(), "conn", "-p", str(b.port), "-K", "1", "--pid",
                 "999999999"], timeout=10)
        check_eq(r.rc, 1, "a --pid that is not running is refused")


main(test)
