#!/usr/bin/env python3
"""An unknown configuration key makes ternd print FILE:LINE: on stderr
and exit with status 1 without listening (no ready file)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    tern_only("config error reporting")
    d = tmp_path("unknown")
    os.makedirs(d)
    conf = os.path.join(d, "ternd.conf")
    port = free_port()
    with open(conf, "w") as f:
        f.write("# a comment\n\nlistener %d 127.0.0.1\nno_such_key 1\n"
                % port)
    data = os.path.join(d, "data")
    r = run_ternd(["-c", conf, "-d", data], timeout=10)
    log("stderr: %r" % r.err)
    check_eq(r.rc, 1, "exit status")
    check("%s:4:" % conf in r.err, "stderr names %s:4: (got %r)"
          % (conf, r.err))
    check("no_such_key" in r.err, "stderr names the key")
    check(not os.path.exists(os.path.join(data, "ternd.ready")),
          "no ready file")
    check(not port_accepts(port), "nothing listens on the port")


main(test)
