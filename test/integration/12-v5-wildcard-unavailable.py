#!/usr/bin/env python3
"""wildcard_subscription_available false: CONNACK Wildcard Subscription
Available 0; SUBACK 0xA2 (Wildcard Subscriptions not supported) for
filters with + or # (3.1.1: 0x80) (3.2.2.3.12), while an
exact filter in the same SUBSCRIBE is granted and works. (tern-only:
mosquitto has no such setting.)"""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403

FILTERS = [("wu/+", 1), ("wu/exact", 1), ("wu/#", 1), ("#", 0),
           ("+/x", 2)]


def test():
    with Broker(**broker_conf(["wildcard_subscription_available false"],
                              why="no wildcard switch in mosquitto")) as b:
        c = raw.Client(b.port, version=V5)
        ack = c.connect("wu-5")
        check_eq(ack.props.get("wildcard_subscription_available"), 0,
                 "CONNACK Wildcard Subscription Available")
        x = RC_WILDCARD_SUBS_NOT_SUPPORTED
        check_eq(c.subscribe(FILTERS).codes, [x, 1, x, x, x],
                 "v5 SUBACK codes")
        o = raw.Client(b.port, version=V311)
        o.connect("wu-311")
        check_eq(o.subscribe(FILTERS).codes, [0x80, 1, 0x80, 0x80, 0x80],
                 "3.1.1 SUBACK codes")
        p = raw.Client(b.port, version=V5)
        p.connect("wu-pub")
        p.publish("wu/exact", b"e", qos=1)
        p.publish("wu/other", b"o", qos=1)
        for got, name in zip(drain_many([c, o]), ("v5", "3.1.1")):
            check_eq([(m.topic, m.payload) for m in got],
                     [("wu/exact", b"e")], "%s: only the exact filter "
                     "matches" % name)
        for s in (c, o, p):
            s.disconnect()


main(test)
