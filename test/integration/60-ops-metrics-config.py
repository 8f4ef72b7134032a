#!/usr/bin/env python3
"""An HTTP listener without http_token_file is refused at start-up with a
message that says what to set (exit 1, no ready file); so is
http_allow_anonymous on an address other than loopback, a token file
that is missing or has no token. With http_allow_anonymous true on
127.0.0.1, /metrics answers without a token."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import metricsutil as mu  # noqa: E402


def refused(i, lines, want):
    d = tmp_path("bad%d" % i)
    os.makedirs(d)
    conf = os.path.join(d, "ternd.conf")
    with open(conf, "w") as f:
        f.write("listener 0 127.0.0.1\n" + "".join(l + "\n" for l in lines))
    data = os.path.join(d, "data")
    r = run_ternd(["-c", conf, "-d", data], timeout=10)
    log("%r -> rc %r, stderr %r" % (lines, r.rc, r.err.strip()))
    check_eq(r.rc, 1, "exit status for %r" % lines)
    check(want in r.err, "stderr says %r for %r (got %r)"
          % (want, lines, r.err))
    check(not os.path.exists(os.path.join(data, "ternd.ready")),
          "no ready file for %r" % lines)


def test():
    tern_only("the HTTP listener")
    empty = tmp_path("empty-tokens")
    with open(empty, "w") as f:
        f.write("# no token yet\n\n")
    refused(0, ["http_listener 0"],
            "http_listener needs http_token_file")
    refused(1, ["http_listener 0 127.0.0.1", "http_allow_anonymous false"],
            "http_listener needs http_token_file")
    refused(2, ["http_listener 0 0.0.0.0", "http_allow_anonymous true"],
            "http_allow_anonymous is for 127.0.0.1 or ::1 only")
    refused(3, ["http_listener 0",
                "http_token_file %s" % tmp_path("no-such-file")],
            "no-such-file: No such file or directory")
    refused(4, ["http_listener 0", "http_token_file %s" % empty],
            "has no token")
    with Broker(conf=["http_listener 0 127.0.0.1",
                      "http_allow_anonymous true"]) as b:
        b.wait_log("http_listener without tokens")
        m = mu.scrape(b.http_port, token=None)
        check(m.families.get("tern_connections") == "gauge",
              "anonymous /metrics on 127.0.0.1")


main(test)
