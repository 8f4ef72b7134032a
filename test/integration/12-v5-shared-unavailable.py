#!/usr/bin/env python3
"""shared_subscription_available false: CONNACK Shared Subscription
Available 0; SUBACK 0x9E (Shared Subscriptions not supported) for a
$share filter, 0x80 for a 3.1.1 client (3.2.2.3.14); other filters of
the same SUBSCRIBE are granted. (tern-only: no mosquitto setting.)"""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403

FILTERS = [("$share/g/su/t", 1), ("su/t", 1)]


def test():
    with Broker(**broker_conf(["shared_subscription_available false"],
                              why="no shared subscription switch in "
                              "mosquitto")) as b:
        c = raw.Client(b.port, version=V5)
        ack = c.connect("su-5")
        check_eq(ack.props.get("shared_subscription_available"), 0,
                 "CONNACK Shared Subscription Available")
        check_eq(c.subscribe(FILTERS).codes,
                 [RC_SHARED_SUBS_NOT_SUPPORTED, 1], "v5 SUBACK")
        o = raw.Client(b.port, version=V311)
        o.connect("su-311")
        check_eq(o.subscribe(FILTERS).codes, [0x80, 1], "3.1.1 SUBACK")
        p = raw.Client(b.port, version=V5)
        p.connect("su-pub")
        p.publish("su/t", b"x", qos=1)
        for got in drain_many([c, o]):
            check_eq([m.payload for m in got], [b"x"],
                     "one copy via the plain filter")
        for s in (c, o, p):
            s.disconnect()


main(test)
