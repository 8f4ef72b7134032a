#!/usr/bin/env python3
"""tern-bench fanin against a real ternd: P publishers -> 1 topic -> 1
subscriber, QoS 0/1/2, MQTT 5 and 3.1.1, by count and by duration. Counts
only: every message sent is received once (lost 0, duplicated 0); at QoS
1/2 every PUBLISH is acknowledged. Also the error paths: no broker (exit
1, connection error named) and a bad option (exit 2)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import (Broker, check_eq, check, free_port, main, run,
                     tern_only)  # noqa: E402
from benchutil import bench, bench_path, check_counts  # noqa: E402


def test():
    tern_only("asserts tern's delivery counts")
    with Broker(["log_level warning"]) as b:
        for version in ("5", "311"):
            for qos in (0, 1, 2):
                what = "fanin v%s QoS %d" % (version, qos)
                d = bench(b.port, "fanin", "-V", version, "-q", qos,
                          "-P", 3, "-n", 3000)
                check_eq(d["sent"], 9000, what + ": sent")
                check_eq(d["expected"], 9000, what + ": expected")
                check_eq(d["subscribers"], 1, what + ": subscribers")
                check_counts(d, what)
        # by duration, a larger window and payload
        d = bench(b.port, "fanin", "-q", 1, "-P", 4, "-d", 2, "-w", 200,
                  "-s", 1000)
        check(d["sent"] > 0, "fanin -d 2 sent something")
        check_counts(d, "fanin -d 2 QoS 1")
        # the machine line without --json
        r = run([bench_path(), "fanin", "-p", str(b.port), "-n", "10",
                 "--quiet"], timeout=30, check_rc=0)
        last = r.out.strip().splitlines()[-1]
        check(last.startswith("RESULT scenario=fanin "), "RESULT line: %r"
              % last)
        check(" lost=0 " in last, "RESULT lost=0: %r" % last)
    # nobody listening: exit 1 and the reason
    r = run([bench_path(), "fanin", "-p", str(free_port()), "-n", "1",
             "--quiet"], timeout=30)
    check_eq(r.rc, 1, "exit status without a broker")
    check("refused" in r.err.lower(), "connection refused named: %r" % r.err)
    r = run([bench_path(), "fanin", "--qos", "3"], timeout=10)
    check_eq(r.rc, 2, "exit status for a bad option")
    r = run([bench_path(), "nosuch"], timeout=10)
    check_eq(r.rc, 2, "exit status for an unknown scenario")


main(test)
