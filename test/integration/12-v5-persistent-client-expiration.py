#!/usr/bin/env python3
"""persistent_client_expiration 2s: a 3.1.1 session with clean session
0 is still there 1 s after the client left (session present 1, queued
message delivered), the time counts from the last disconnection, and
the session is gone once it has been offline for more than 2 s (3 s
here: session present 0, nothing queued). (tern-only: mosquitto's
persistent_client_expiration takes hours at least.)"""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403


def offline_session(port, cid):
    c = raw.Client(port, version=V311)
    ack = c.connect(cid, clean=False)
    c.subscribe("pce/t", qos=1)
    c.disconnect()
    return ack


def test():
    with Broker(**broker_conf(["persistent_client_expiration 2s"],
                              why="mosquitto: no expiration in seconds")) \
            as b:
        offline_session(b.port, "pce-early")
        offline_session(b.port, "pce-late")
        t0 = time.monotonic()
        p = raw.Client(b.port, version=V311)
        p.connect("pce-pub")
        p.publish("pce/t", b"q1", qos=1)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
        c = raw.Client(b.port, version=V311)
        ack = c.connect("pce-early", clean=False)
        check_eq(ack.session_present, 1, "before the expiration: session "
                 "present")
        check_eq(c.recv_publish(timeout=3.0).payload, b"q1", "queued message")
        c.disconnect()      # offline again: the clock starts again
        p.publish("pce/t", b"q2", qos=1, mid=2)
        p.disconnect()
        # 2.5 s after the first absence began, 1.5 s into the second one
        time.sleep(max(0.0, 2.5 - (time.monotonic() - t0)))
        c = raw.Client(b.port, version=V311)
        ack = c.connect("pce-early", clean=False)
        check_eq(ack.session_present, 1, "offline 1.5 s after a "
                 "reconnection: session present")
        check_eq(c.recv_publish(timeout=3.0).payload, b"q2", "queued message")
        c.disconnect()
        time.sleep(max(0.0, 3.2 - (time.monotonic() - t0)))
        c = raw.Client(b.port, version=V311)
        ack = c.connect("pce-late", clean=False)
        check_eq(ack.session_present, 0, "offline 3 s: session expired")
        check(recv_or_none(c, 0.3) is None, "nothing queued after expiry")
        c.disconnect()

main(test)
