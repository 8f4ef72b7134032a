#!/usr/bin/env python3
"""A v5 client's Maximum Packet Size, the cases
10-limits-client-max-packet-size.py leaves out: the whole packet counts,
properties included (a small payload with big User Properties is too
large) [MQTT-3.1.2-24]; a too-large retained message is not sent on
subscribing while a small one is; QoS 0 too; the message is dropped for
that client only, never truncated [MQTT-3.1.2-25], and does not block
the messages after it; another subscriber gets everything intact."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403

LIMIT = 120
BIG_UP = [("user-key", "v" * 100)]


def test():
    with Broker() as b:
        pub(b.port, "cmp/r/big", "R" * 200, qos=1, retain=True, version=5)
        pub(b.port, "cmp/r/small", "r", qos=1, retain=True, version=5)
        c = raw.Client(b.port, version=V5)
        c.connect("cmp-small", properties={"maximum_packet_size": LIMIT})
        c.subscribe("cmp/#", qos=1)
        got = drain_publishes(c, 0.3)
        check_eq([(m.topic, m.payload) for m in got],
                 [("cmp/r/small", b"r")], "retained: only the small one")
        big = raw.Client(b.port, version=V5)
        big.connect("cmp-big")
        big.subscribe("cmp/t", qos=1)

        p = raw.Client(b.port, version=V5)
        p.connect("cmp-pub")
        sends = [(1, b"a" * 20, None), (1, b"b" * 20, BIG_UP),
                 (0, b"c" * 200, None), (1, b"d" * 20, None),
                 (0, b"e" * 20, None)]
        for i, (q, payload, up) in enumerate(sends):
            p.publish("cmp/t", payload, qos=q, mid=i + 1,
                      properties={"user_property": up} if up else None)
        got = drain_publishes(c, 0.3)
        for m in got:
            check(len(m.body) + 2 <= LIMIT, "packet within %d bytes: %d"
                  % (LIMIT, len(m.body) + 2))
        check_eq([m.payload for m in got], [b"a" * 20, b"d" * 20, b"e" * 20],
                 "small client: the fitting messages, whole")
        got = [big.recv_publish(timeout=3.0) for _ in sends]
        check_eq([(m.payload, m.props.get("user_property")) for m in got],
                 [(pl, up) for _, pl, up in sends], "other subscriber")
        c.ping()
        for x in (c, big, p):
            x.disconnect()


main(test)
