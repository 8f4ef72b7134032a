#!/usr/bin/env python3
"""tern-bench conn against a real ternd: K idle connections held for a
while, with --pid so that the broker's RSS is read. Counts only: every
connection is made (connections = K, status 0), the RSS figures are
present; with --subscribe each client also subscribes."""
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
