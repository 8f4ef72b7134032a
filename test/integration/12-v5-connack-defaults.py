#!/usr/bin/env python3
"""MQTT 5 CONNACK with the default configuration (3.2.2.3): every
property at most once; no "available" property set to 0 (Retain,
Wildcard Subscription, Subscription Identifiers, Shared Subscription
all available); no Maximum QoS (2 is never sent: 3.2.2.3.4); Topic
Alias Maximum 10; Receive Maximum 1024 (ternd default; mosquitto
advertises its own); no Assigned Client Identifier when the client gave
one; no Server Keep Alive for keep alive 60; no Response Information
unless asked; a 3.1.1 CONNACK has no property block (2 bytes)."""
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
        c = raw.Client(b.port, version=V5)
        ack = c.connect("cd-5", keepalive=60)
        ids = prop_ids(ack.body[2:])
        log("CONNACK properties: %r" % ack.props)
        check_eq(len(ids), len(set(ids)), "each property at most once: %r"
                 % ids)
        for k in ("retain_available", "wildcard_subscription_available",
                  "subscription_identifier_available",
                  "shared_subscription_available"):
            check(ack.props.get(k, 1) == 1, "%s: %r" % (k, ack.props))
        check("maximum_qos" not in ack.props, "Maximum QoS sent with "
              "QoS 2 available: %r" % ack.props)
        check_eq(ack.props.get("topic_alias_maximum"), 10,
                 "Topic Alias Maximum")
        if not is_mosquitto():
            check_eq(ack.props.get("receive_maximum"), 1024,
                     "Receive Maximum")
        for k in ("assigned_client_identifier", "server_keep_alive",
                  "response_information", "server_reference",
                  "authentication_method"):
            check(k not in ack.props, "no %s: %r" % (k, ack.props))
        c.disconnect()
        o = raw.Client(b.port, version=V311)
        ack = o.connect("cd-311")
        check_eq(ack.body, b"\x00\x00", "3.1.1 CONNACK body")
        o.disconnect()


main(test)
