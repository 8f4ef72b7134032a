#!/usr/bin/env python3
"""MQTT 5, zero-length client id: the CONNACK carries an Assigned Client
Identifier (property 0x12), non-empty; two such clients get different
identifiers; the client works."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    with Broker() as b:
        ids = []
        clients = []
        for i in range(2):
            c = raw.Client(b.port, version=V5)
            ack = c.connect("", clean=True)
            check_eq(ack.reason, 0, "CONNACK reason")
            aid = ack.props.get("assigned_client_identifier")
            check(aid, "CONNACK has an Assigned Client Identifier: %r"
                  % ack.props)
            ids.append(aid)
            clients.append(c)
        check(ids[0] != ids[1], "assigned identifiers differ: %r" % ids)
        c = clients[0]
        c.subscribe("v5/empty", qos=1)
        c.publish("v5/empty", b"y", qos=1)
        check_eq(c.recv_publish().payload, b"y", "payload")
        for c in clients:
            c.disconnect()


main(test)
