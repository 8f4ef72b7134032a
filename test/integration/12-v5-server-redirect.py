#!/usr/bin/env python3
"""Server redirection (4.11): with server_reference other.example:1884,
SIGUSR1 puts ternd in draining mode: each connected v5 client gets
DISCONNECT 0x9C (Use another server) with Server Reference
"other.example:1884" and is closed, a 3.1.1 client is closed; new v5
CONNECTs get CONNACK 0x9C with the Server Reference, new 3.1.1 CONNECTs
CONNACK return code 3 (server unavailable); SIGTERM then exits 0.
(tern-only: mosquitto has no draining.)"""
import os
import signal
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403

REF = "other.example:1884"


def test():
    with Broker(**broker_conf(["server_reference " + REF],
                              why="mosquitto has no draining")) as b:
        v5 = [raw.Client(b.port, version=V5) for _ in range(2)]
        for i, c in enumerate(v5):
            c.connect("sr-v5-%d" % i)
            c.subscribe("sr/t", qos=1)
        old = raw.Client(b.port, version=V311)
        old.connect("sr-311")
        b.signal(signal.SIGUSR1)
        for c in v5:
            d = expect_server_disconnect(c, RC_USE_ANOTHER_SERVER,
                                         "connected v5 client")
            check_eq(d.props.get("server_reference"), REF,
                     "DISCONNECT Server Reference")
        check_eq(old.wait_closed(5.0), [], "3.1.1 client closed, no packet")
        old.close()

        c = raw.Client(b.port, version=V5)
        ack = c.connect("sr-new-v5", rc=RC_USE_ANOTHER_SERVER)
        check_eq(ack.props.get("server_reference"), REF,
                 "CONNACK Server Reference")
        check_eq(ack.session_present, 0, "CONNACK session present")
        check_eq(c.wait_closed(5.0), [], "closed after the CONNACK")
        c.close()
        c = raw.Client(b.port, version=V311)
        c.connect("sr-new-311", rc=RC311_SERVER_UNAVAILABLE)
        check_eq(c.wait_closed(5.0), [], "closed after the CONNACK")
        c.close()
        check(b.alive(), "ternd still running while draining")
        check_eq(b.stop(), 0, "exit status after SIGTERM")


main(test)
