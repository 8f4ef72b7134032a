#!/usr/bin/env python3
"""Bad connection sections are refused at start with FILE:LINE: and exit
status 1, before anything listens: a topic line with a bad direction, QoS
or prefixes, a connection without an address or without a topic line (at
its connection line), a key of no bridge after a connection line, a bad
name or protocol version."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403

# (lines after "listener", the line reported, a part of the message)
BAD = [
    (["connection r", "address 127.0.0.1:1883", "topic a/# sideways 1"], 5,
     "topic a/#: the direction must be in, out or both, not 'sideways'"),
    (["connection r", "topic a/# out 1"], 3,
     "connection r has no address line"),
    (["connection r", "address 127.0.0.1:1883", "",
      "connection s", "address 127.0.0.1:1884", "topic a/# in"], 3,
     "connection r has no topic line"),
    (["connection r", "address 127.0.0.1:1883", "topic a/# out 3"], 5,
     "the QoS must be 0, 1 or 2"),
    (["connection r", "address 127.0.0.1:1883", "topic a/# out 1 l/"], 5,
     "topic takes"),
    (["connection r", "address 127.0.0.1:1883", "topic a/# both 1 l/# r/"],
     5, "a prefix may not hold"),
    (["connection r", "address 127.0.0.1:1883", "topic a/# in",
      "max_queued_messages 10"], 6,
     "unknown key 'max_queued_messages' in connection r"),
    (["connection r/x"], 3, "connection takes one name"),
    (["connection r", "address 127.0.0.1:99999"], 4, "address takes"),
    (["connection r", "bridge_protocol_version mqttv31"], 4,
     "bridge_protocol_version must be mqttv311 or mqttv50"),
    (["connection r", "address 127.0.0.1", "topic a/#",
      "connection r"], 6, "connection r is given twice"),
]


def test():
    tern_only("bridges to other brokers")
    for i, (lines, at, text) in enumerate(BAD):
        d = tmp_path("bad%d" % i)
        os.makedirs(d)
        conf = os.path.join(d, "ternd.conf")
        with open(conf, "w") as f:
            f.write("listener 0 127.0.0.1\n# comment\n%s\n"
                    % "\n".join(lines))
        data = os.path.join(d, "data")
        r = run_ternd(["-c", conf, "-d", data], timeout=10)
        log("%r -> rc %r, stderr %r" % (lines, r.rc, r.err.strip()))
        check_eq(r.rc, 1, "exit status for %r" % lines)
        check("%s:%d: " % (conf, at) in r.err and text in r.err,
              "stderr names %s:%d: and says %r (got %r)"
              % (conf, at, text, r.err))
        check(not os.path.exists(os.path.join(data, "ternd.ready")),
              "no ready file for %r" % lines)


main(test)
