#!/usr/bin/env python3
"""PINGREQ gets PINGRESP, and a client with keep alive 1 s that pings
every 0.4 s stays connected well beyond 1.5x its keep alive."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
import time  # noqa: E402


# mosquitto 2.0.11 checks keep alives only every ~5 s: ping for longer
DURATION = 7.0 if is_mosquitto() else 3.0


def test():
    with Broker() as b:
        cs = []
        for version in (V311, V5):
            c = raw.Client(b.port, version=version)
            c.connect("pinger-%d" % version, keepalive=1)
            cs.append(c)
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < DURATION:
            for c in cs:
                c.ping(timeout=2.0)
            n += 1
            time.sleep(0.4)
        check(n >= 5, "pings sent: %d" % n)
        for c in cs:
            # still usable
            c.subscribe("ping/t", qos=1)
            c.publish("ping/t", b"alive", qos=1)
            check_eq(c.recv_publish().payload, b"alive", "payload after pings")
            c.disconnect()


main(test)
