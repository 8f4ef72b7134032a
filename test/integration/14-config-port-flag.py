#!/usr/bin/env python3
"""-p PORT replaces the configured listeners with one on
127.0.0.1:PORT: the ready file lists only it and clients connect there."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    tern_only("-p flag and ready file")
    port = free_port()
    with Broker(args=["-p", str(port)]) as b:
        check_eq(b.listeners, [("127.0.0.1", port)], "ready file listeners")
        c = raw.Client(port, version=V5)
        c.connect("pflag")
        c.ping()
        c.disconnect()


main(test)
