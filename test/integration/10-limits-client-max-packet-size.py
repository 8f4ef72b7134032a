#!/usr/bin/env python3
"""A v5 client's Maximum Packet Size (CONNECT property): the broker does
not send it a larger PUBLISH (the message is dropped for that client),
and smaller messages still arrive."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    with Broker() as b:
        c = raw.Client(b.port, version=V5)
        c.connect("small-client", properties={"maximum_packet_size": 200})
        c.subscribe("cmps/t", qos=1)
        other = raw.Client(b.port, version=V5)
        other.connect("big-client")
        other.subscribe("cmps/t", qos=1)
        p = raw.Client(b.port, version=V5)
        p.connect("cmps-pub")
        p.publish("cmps/t", b"b" * 500, qos=1, mid=1)
        p.publish("cmps/t", b"small", qos=1, mid=2)
        m = c.recv_publish(timeout=3.0)
        check_eq(m.payload, b"small", "the small client gets only the "
                 "small message")
        check(len(m.body) + 2 <= 200, "packet within the limit")
        check_eq(other.recv_publish().payload, b"b" * 500,
                 "other client gets the big one")
        check_eq(other.recv_publish().payload, b"small", "and the small")
        c.ping()
        for x in (c, other, p):
            x.disconnect()


main(test)
