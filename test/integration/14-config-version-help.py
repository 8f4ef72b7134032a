#!/usr/bin/env python3
"""ternd --version prints the package version and exits 0; -h prints
a usage naming every option and exits 0; an unknown option exits non-zero
without listening."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    tern_only("command line")
    r = run_ternd(["--version"], timeout=10)
    check_eq(r.rc, 0, "--version exit status")
    out = r.out + r.err
    v = ternd_version()
    check(v is None or v in out, "--version prints %r: %r" % (v, out))
    check("ternd" in out or "tern" in out, "--version names the program")

    r = run_ternd(["-h"], timeout=10)
    check_eq(r.rc, 0, "-h exit status")
    out = r.out + r.err
    for opt in ("-c", "-p", "-d", "-v", "-h", "--version"):
        check(opt in out, "usage mentions %s: %r" % (opt, out))

    d = tmp_path("bogus")
    r = run_ternd(["--no-such-option", "-d", d], timeout=10)
    check(r.rc not in (0, None), "unknown option exit status %r" % r.rc)
    check(not os.path.exists(os.path.join(d, "ternd.ready")),
          "no ready file")


main(test)
