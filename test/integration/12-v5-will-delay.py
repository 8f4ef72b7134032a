#!/usr/bin/env python3
"""MQTT 5 Will Delay Interval 2 s (3.1.3.2.2): when the client is
killed the will is not published at once (nothing within 1 s) but is
within 5 s [MQTT-3.1.3-9]; its session lives longer (expiry 60) so the
delay is what ends the wait."""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403


def test():
    with Broker() as b:
        s = raw.Client(b.port, version=V5)
        s.connect("wd-watch")
        s.subscribe("wd/#", qos=1)
        c = raw.Client(b.port, version=V5)
        c.connect("wd-client", will=("wd/will", b"gone", 1, False),
                  will_properties={"will_delay_interval": 2},
                  properties={"session_expiry_interval": 60})
        c.ping()
        t0 = time.monotonic()
        c.abort()
        check(recv_or_none(s, 1.0) is None, "no will within 1 s of the "
              "close (delay 2 s)")
        m = s.recv_publish(timeout=4.0)
        dt = time.monotonic() - t0
        log("will after %.2f s" % dt)
        check_eq((m.topic, m.payload), ("wd/will", b"gone"), "will message")
        check(dt >= 1.5, "will not before the delay: %.2f s" % dt)
        s.expect_none(0.2)
        # clean up the session
        c = raw.Client(b.port, version=V5)
        c.connect("wd-client", clean=True)
        c.disconnect()
        s.disconnect()


main(test)
