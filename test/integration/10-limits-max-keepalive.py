#!/usr/bin/env python3
"""max_keepalive 10: a v5 client asking for keep alive 60 gets Server
Keep Alive 10 in CONNACK."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    with Broker(conf=["max_keepalive 10"]) as b:
        c = raw.Client(b.port, version=V5)
        ack = c.connect("mk", keepalive=60)
        check_eq(ack.props.get("server_keep_alive"), 10,
                 "CONNACK Server Keep Alive")
        c.ping()
        c.disconnect()
        c = raw.Client(b.port, version=V5)
        ack = c.connect("mk2", keepalive=5)
        check(ack.props.get("server_keep_alive") in (None, 5),
              "Server Keep Alive for an acceptable value: %r" % ack.props)
        c.disconnect()


main(test)
