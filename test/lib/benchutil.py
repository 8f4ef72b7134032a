"""Helpers for the tern-bench tests (test/integration/21-bench-*.py).

Stdlib only; built on harness.py without changing it:

- ``bench_path()``: the built clients/tern-bench (under TERN_BUILDDIR),
  or a HarnessError when it is not built;
- ``bench(port, *args)``: run one scenario against the broker on ``port``
  with --json, check its exit status and parse the last line of its
  output;
- ``check_counts(d, what)``: the delivery counters of that line (nothing
  lost, duplicated, stale, bogus or misrouted; at QoS 1/2 every PUBLISH
  acknowledged, none refused).
"""

import json
import os

from harness import HarnessError, check_eq, run


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
