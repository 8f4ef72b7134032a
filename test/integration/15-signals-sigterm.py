#!/usr/bin/env python3
"""SIGTERM: every v5 client gets DISCONNECT 0x8B (server shutting down)
and is closed, 3.1.1 clients are closed, ternd exits 0 and removes its
ready file. SIGINT does the same."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
import signal  # noqa: E402


def one(sig):
    with Broker(name="broker-%d" % sig) as b:
        v5 = raw.Client(b.port, version=V5)
        v5.connect("st-v5")
        v5.subscribe("st/t", qos=1)
        v3 = raw.Client(b.port, version=V311)
        v3.connect("st-v311")
        b.signal(sig)
        got = v5.wait_closed(5.0)
        if is_mosquitto() and not got:
            log("mosquitto sends no DISCONNECT 0x8B")
        else:
            check(len(got) == 1 and got[0].type == raw.DISCONNECT,
                  "v5 client gets one DISCONNECT: %r" % got)
            check_eq(got[0].reason, raw.RC_SERVER_SHUTTING_DOWN,
                     "DISCONNECT reason")
        check_eq(v3.wait_closed(5.0), [], "3.1.1 client: closed, nothing")
        rc = b.wait_exit(10.0)
        check_eq(rc, 0, "exit status after signal %d" % sig)
        b.check_log_clean()
        if not is_mosquitto():
            check(not os.path.exists(b.ready_path()), "ready file removed")


def test():
    one(signal.SIGTERM)
    one(signal.SIGINT)


main(test)
