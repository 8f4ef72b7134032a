#!/usr/bin/env python3
"""A CONNECT whose will topic is empty breaks MQTT-4.7.3-1 (a topic name
has at least one character; a will has no topic alias): a protocol
error. A v5 client is told so in its CONNACK (reason 0x82, 4.13.1) and
closed; a 3.1.1 or 3.1 client is closed without a CONNACK
(MQTT-3.1.4-1). No session is created: the client id connects afterwards
with Session Present 0, and other clients are not disturbed."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    tern_only("mosquitto 2.0.11 answers 3.1.1 with a CONNACK")
    with Broker() as b:
        by = Bystander(b.port)
        for version in (V31, V311, V5):
            cid = "will0-%d" % version
            c = raw.Client(b.port, version=version)
            c.send(raw.connect(cid, version=version, clean=False,
                               will=("", b"gone", 1, False)))
            got = c.wait_closed(3.0)
            c.close()
            log("v%d: %r" % (version, got))
            if version == V5:
                check(len(got) == 1 and got[0].type == raw.CONNACK,
                      "v5: one CONNACK before the close, got %r" % got)
                check_eq(got[0].reason, 0x82, "v5: CONNACK reason")
            else:
                check_eq(got, [], "v%d: packets before the close" % version)
            by.check()
            c = raw.Client(b.port, version=version)
            ack = c.connect(cid, clean=True)
            check_eq(ack.session_present, 0, "v%d: no session was made"
                     % version)
            c.disconnect()
        by.close()


main(test)
