#!/usr/bin/env python3
"""MQTT 5 Will Delay longer than the session: will delay 10 s, session
expiry 1 s: the will is published when the session ends, after about
1 s, not after 10 s [MQTT-3.1.3-9] (3.1.3.2.2: "or the Session ends,
whichever happens first"); with session expiry 0 (ends at the close)
it is published at once (not checked against mosquitto 2.0.11, which
holds it until it exits)."""
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
        s.connect("wds-watch")
        s.subscribe("wds/#", qos=1)
        cases = [("wds-one", 1, 0.5, 4.0)]
        if not is_mosquitto():
            # mosquitto 2.0.11 keeps the will of a session with expiry 0
            # and a will delay until it exits: ternd only
            cases.insert(0, ("wds-zero", 0, 0.0, 1.0))
        for cid, expiry, lo, hi in cases:
            c = raw.Client(b.port, version=V5)
            c.connect(cid, will=("wds/" + cid, b"bye", 1, False),
                      will_properties={"will_delay_interval": 10},
                      properties={"session_expiry_interval": expiry})
            c.ping()
            t0 = time.monotonic()
            c.abort()
            m = s.recv_publish(timeout=hi)
            dt = time.monotonic() - t0
            log("%s: will after %.2f s" % (cid, dt))
            check_eq((m.topic, m.payload), ("wds/" + cid, b"bye"),
                     "%s: will message" % cid)
            check(dt >= lo, "%s: will not before the session end: %.2f s"
                  % (cid, dt))
            c = raw.Client(b.port, version=V5)
            ack = c.connect(cid, clean=False)
            check_eq(ack.session_present, 0, "%s: session ended" % cid)
            c.disconnect()
        s.expect_none(0.2)
        s.disconnect()


main(test)
