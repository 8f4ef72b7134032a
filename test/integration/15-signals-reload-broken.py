#!/usr/bin/env python3
"""A configuration file that no longer parses is refused whole on SIGHUP.

The node runs with log_level notice and max_queued_messages 5. Its file
is rewritten with log_level debug and max_queued_messages 2, then a bad
line: on SIGHUP the error ("FILE:LINE: ...") is logged and nothing
changes: no debug line for a new connection, an offline session still
gets 5 of 8 queued messages, the port still serves. Its file then fixed,
the next SIGHUP applies both keys."""
import os
import signal
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311  # noqa: E402


def queued(b, cid):
    """Queue 8 QoS 1 messages for offline cid; how many it gets."""
    c = raw.Client(b.port, version=V311)
    c.connect(cid, clean=False)
    c.subscribe("rb/q", qos=1)
    c.disconnect()
    p = raw.Client(b.port, version=V311)
    p.connect(cid + "-pub")
    for i in range(8):
        p.publish("rb/q", b"%d" % i, qos=1, mid=i + 1)
    c = raw.Client(b.port, version=V311)
    c.connect(cid, clean=False)
    c.subscribe("rb/marker", qos=1, mid=99)
    p.publish("rb/marker", b"end", qos=1, mid=100)
    n = 0
    while c.recv_publish(timeout=5.0).topic != "rb/marker":
        n += 1
    c.disconnect()
    p.disconnect()
    return n


def test():
    tern_only("SIGHUP reload")
    good = ["log_level notice", "max_queued_messages 5"]
    with Broker(conf=good, verbose=False) as b:
        b.conf = ["log_level debug", "max_queued_messages 2",
                  "max_queued_messages lots"]
        b._write_conf()
        b.signal(signal.SIGHUP)
        b.wait_log("error: %s:5: max_queued_messages must be a number"
                   % b.conf_path)
        b.wait_log("configuration not reloaded")
        c = raw.Client(b.port, version=V311)
        c.connect("after-bad")
        c.disconnect()
        check_eq(queued(b, "rb-1"), 5, "the old max_queued_messages")
        time.sleep(0.3)
        check("debug:" not in b.log(), "still at log_level notice")
        check("changed in" not in b.log(), "no key taken from the file")

        b.conf = ["log_level debug", "max_queued_messages 2"]
        b._write_conf()
        b.signal(signal.SIGHUP)
        b.wait_log("configuration reloaded from %s: 2 keys changed"
                   % b.conf_path)
        check_eq(queued(b, "rb-2"), 2, "the fixed file applies")
        b.wait_log("debug: new connection from")


main(test)
