#!/usr/bin/env python3
"""A bad value for a known key (non-numeric, out of range, bad boolean,
unknown level, missing argument) makes ternd print FILE:LINE: and exit
with status 1 without listening."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

BAD = [
    "max_packet_size abc",
    "max_packet_size -5",
    "max_inflight_messages 12x",
    "max_queued_messages",
    "max_keepalive 70000",
    "allow_zero_length_clientid maybe",
    "set_tcp_nodelay 2",
    "connect_timeout -1",
    "log_level loud",
    "log_dest syslog",
    "listener 99999",
    "listener abc",
]


def test():
    tern_only("config error reporting")
    for i, line in enumerate(BAD):
        d = tmp_path("bad%d" % i)
        os.makedirs(d)
        conf = os.path.join(d, "ternd.conf")
        port = free_port()
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\n# comment\n%s\n" % (port, line))
        data = os.path.join(d, "data")
        r = run_ternd(["-c", conf, "-d", data], timeout=10)
        log("%r -> rc %r, stderr %r" % (line, r.rc, r.err.strip()))
        check_eq(r.rc, 1, "exit status for %r" % line)
        check("%s:3:" % conf in r.err, "stderr names %s:3: for %r (got %r)"
              % (conf, line, r.err))
        check(not os.path.exists(os.path.join(data, "ternd.ready")),
              "no ready file for %r" % line)


main(test)
