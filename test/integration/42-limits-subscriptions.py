#!/usr/bin/env python3
"""max_subscriptions_per_client 3: a new filter past three gets 0x97 (v5)
or 0x80 (3.1.1) and no subscription; a filter already held may be
replaced; after an unsubscribe a new one fits again."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402


def test():
    tern_only("max_subscriptions_per_client")
    with Broker(conf=["max_subscriptions_per_client 3"]) as b:
        c = raw.Client(b.port, version=V5)
        c.connect("v5")
        a = c.subscribe([("s/1", 0), ("s/2", 0), ("s/3", 0), ("s/4", 0),
                         ("s/5", 1)], mid=1)
        check_eq(a.codes, [0, 0, 0, 0x97, 0x97], "v5 SUBACK codes")
        a = c.subscribe([("s/2", 1)], mid=2)
        check_eq(a.codes, [1], "replacing a held filter")
        pub = raw.Client(b.port, version=V5)
        pub.connect("pub")
        pub.publish("s/4", b"not subscribed", qos=1)
        pub.publish("s/2", b"subscribed", qos=1)
        m = c.recv_publish()
        check_eq((m.topic, m.payload), ("s/2", b"subscribed"),
                 "only the granted filters deliver")
        c.expect_none(0.3)
        check_eq(c.unsubscribe(["s/1"], mid=3).codes, [0], "UNSUBACK")
        a = c.subscribe([("s/4", 0), ("s/5", 0)], mid=4)
        check_eq(a.codes, [0, 0x97], "room for one after unsubscribe")

        o = raw.Client(b.port, version=V311)
        o.connect("v311")
        a = o.subscribe([("t/1", 0), ("t/2", 0), ("t/3", 0), ("t/4", 0)],
                        mid=1)
        check_eq(a.codes, [0, 0, 0, 0x80], "3.1.1 SUBACK codes")
        o.ping()
        for x in (c, pub, o):
            x.disconnect()


main(test)
