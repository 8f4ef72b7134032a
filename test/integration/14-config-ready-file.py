#!/usr/bin/env python3
"""The ready file lists one 'listener ADDRESS PORT' line per listener
with the bound port (port 0 = ephemeral), every listed port accepts MQTT,
the data directory is created if missing, and the file is removed at a
clean exit."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    tern_only("ready file")
    b = Broker(conf=["listener 0 127.0.0.1", "# a comment", "",
                     "set_tcp_nodelay true"], start=False)
    # a nested data dir that does not exist yet
    b.data_dir = os.path.join(b.dir, "deep", "er", "data")
    with b.start():
        check_eq(len(b.listeners), 2, "two listeners: %r" % b.listeners)
        ports = [p for _, p in b.listeners]
        check(all(p > 0 for p in ports), "bound ports %r" % ports)
        check(ports[0] != ports[1], "distinct ports %r" % ports)
        for i, (addr, port) in enumerate(b.listeners):
            check_eq(addr, "127.0.0.1", "listener address")
            c = raw.Client(port, version=V311)
            c.connect("ready-%d" % i)
            c.ping()
            c.disconnect()
        with open(b.ready_path()) as f:
            text = f.read()
        check(text.endswith("\n"), "ready file ends with a newline")
    check(not os.path.exists(b.ready_path()),
          "ready file removed at clean exit")


main(test)
