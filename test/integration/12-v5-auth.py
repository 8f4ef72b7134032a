#!/usr/bin/env python3
"""MQTT 5 enhanced authentication without any method configured
(4.12): a CONNECT with an Authentication Method the server does not
support gets CONNACK 0x8C (Bad authentication method) and is closed
[MQTT-4.12.0-1]; an AUTH packet from a client that connected without
an Authentication Method is a Protocol Error: DISCONNECT 0x82
(4.12, 3.15); other clients keep working."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403


def test():
    with Broker() as b:
        by = Bystander(b.port, version=5)
        for method, data in (("SCRAM-SHA-1", b"client-first"),
                             ("X-UNKNOWN", None)):
            props = {"authentication_method": method}
            if data is not None:
                props["authentication_data"] = data
            c = raw.Client(b.port, version=V5)
            ack = c.connect("auth-%s" % method, properties=props,
                            rc=RC_BAD_AUTH_METHOD)
            check_eq(ack.session_present, 0, "session present")
            check_eq(c.wait_closed(5.0), [], "closed after CONNACK 0x8C")
            c.close()
            by.check()
        for rc in (0x18, 0x19):
            c = raw.Client(b.port, version=V5)
            c.connect("auth-plain-%x" % rc)
            c.send(auth(rc, {"authentication_method": "SCRAM-SHA-1"}))
            expect_server_disconnect(c, raw.RC_PROTOCOL_ERROR,
                                     "AUTH %#x without enhanced auth" % rc)
            by.check()
        by.close()


main(test)
