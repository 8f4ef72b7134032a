#!/usr/bin/env python3
"""MQTT 5 Will Delay: a client killed with a will delayed 2 s, that
reconnects (same client id, clean start 0, session expiry 60) within
the delay, never has its will published [MQTT-3.1.3-9]. A client with
the same setup that reconnects with clean start 1 ends the old session:
its will is published then (3.1.3.2.2: "or the Session ends, whichever
happens first"; ternd only: mosquitto 2.0.11 drops that will)."""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403

PROPS = {"session_expiry_interval": 60}
WILL_PROPS = {"will_delay_interval": 2}


def test():
    with Broker() as b:
        s = raw.Client(b.port, version=V5)
        s.connect("wdr-watch")
        s.subscribe("wdr/#", qos=1)
        c = raw.Client(b.port, version=V5)
        c.connect("wdr-resume", will=("wdr/resume", b"no", 1, False),
                  will_properties=WILL_PROPS, properties=PROPS)
        c.ping()
        t0 = time.monotonic()
        c.abort()
        time.sleep(0.3)
        c = raw.Client(b.port, version=V5)
        ack = c.connect("wdr-resume", clean=False, properties=PROPS)
        check_eq(ack.session_present, 1, "session resumed")
        # until past the delay: still no will
        check(recv_or_none(s, 2.4 - (time.monotonic() - t0)) is None,
              "no will after a reconnection within the delay")
        c.disconnect()    # normal disconnect: no will, and none was set
        if is_mosquitto():
            # mosquitto 2.0.11 drops the will when a clean start ends the
            # session: that half is checked against ternd only
            s.disconnect()
            return

        c = raw.Client(b.port, version=V5)
        c.connect("wdr-clean", will=("wdr/clean", b"yes", 1, False),
                  will_properties=WILL_PROPS, properties=PROPS)
        c.ping()
        c.abort()
        time.sleep(0.3)
        t0 = time.monotonic()
        c = raw.Client(b.port, version=V5)
        ack = c.connect("wdr-clean", clean=True)
        check_eq(ack.session_present, 0, "clean start: new session")
        m = s.recv_publish(timeout=3.0)
        check_eq((m.topic, m.payload), ("wdr/clean", b"yes"), "will of the "
                 "ended session")
        log("will %.2f s after the clean start" % (time.monotonic() - t0))
        check(time.monotonic() - t0 < 1.5, "will published when the "
              "session ended, not after the delay")
        s.expect_none(0.2)
        for x in (c, s):
            x.disconnect()
        c = raw.Client(b.port, version=V5)
        c.connect("wdr-resume", clean=True)
        c.disconnect()


main(test)
