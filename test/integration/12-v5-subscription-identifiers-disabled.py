#!/usr/bin/env python3
"""subscription_identifier_available false: CONNACK Subscription
Identifiers Available 0; a SUBSCRIBE with a Subscription Identifier gets
DISCONNECT 0xA1 (3.2.2.3.13); one without works. (tern-only:
mosquitto has no such setting.)"""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403


def test():
    with Broker(**broker_conf(["subscription_identifier_available false"],
                              why="no subscription identifier switch in "
                              "mosquitto")) as b:
        by = Bystander(b.port, version=5)
        c = raw.Client(b.port, version=V5)
        ack = c.connect("sid")
        check_eq(ack.props.get("subscription_identifier_available"), 0,
                 "CONNACK Subscription Identifiers Available")
        check_eq(c.subscribe("sid/plain", qos=1).codes, [1],
                 "SUBSCRIBE without an identifier")
        c.send(raw.subscribe(2, [("sid/x", 1)], version=V5,
                             properties={"subscription_identifier": 5}))
        expect_server_disconnect(c, RC_SUB_IDS_NOT_SUPPORTED,
                                 "SUBSCRIBE with an identifier")
        by.check()
        by.close()


main(test)
