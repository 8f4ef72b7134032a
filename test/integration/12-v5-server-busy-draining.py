#!/usr/bin/env python3
"""Draining without server_reference: after SIGUSR1 a connected v5
client gets DISCONNECT 0x89 (Server busy) without Server Reference, a
new v5 CONNECT gets CONNACK 0x89 without Server Reference, a 3.1.1
CONNECT gets return code 3; a second SIGUSR1 changes nothing; SIGTERM
exits 0. (tern-only: mosquitto has no draining.)"""
import os
import signal
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403


def test():
    tern_only("draining on SIGUSR1")
    with Broker() as b:
        c = raw.Client(b.port, version=V5)
        c.connect("sb-v5")
        b.signal(signal.SIGUSR1)
        d = expect_server_disconnect(c, RC_SERVER_BUSY, "connected v5")
        check("server_reference" not in d.props, "no Server Reference: %r"
              % d)
        b.signal(signal.SIGUSR1)
        for i in range(2):
            c = raw.Client(b.port, version=V5)
            ack = c.connect("sb-new-%d" % i, rc=RC_SERVER_BUSY)
            check("server_reference" not in ack.props,
                  "no Server Reference: %r" % ack)
            check_eq(c.wait_closed(5.0), [], "closed after the CONNACK")
            c.close()
        c = raw.Client(b.port, version=V311)
        c.connect("sb-311", rc=RC311_SERVER_UNAVAILABLE)
        c.close()
        check(b.alive(), "ternd still running while draining")
        check_eq(b.stop(), 0, "exit status after SIGTERM")


main(test)
