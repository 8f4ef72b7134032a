#!/usr/bin/env python3
"""A 512 kB message (under the default 1 MB max_packet_size) sent in
small TCP pieces is delivered intact to a 3.1.1 and a v5 subscriber."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
import time  # noqa: E402


def test():
    with Broker() as b:
        subs = []
        for v in (V311, V5):
            c = raw.Client(b.port, version=v)
            c.connect("big-sub-%d" % v)
            c.subscribe("big/t", qos=1)
            subs.append(c)
        payload = bytes(range(256)) * 2048
        p = raw.Client(b.port, version=V5)
        p.connect("big-pub")
        pkt = raw.publish("big/t", payload, qos=1, mid=1, version=V5)
        # first bytes one by one, then large chunks
        for i in range(8):
            p.send(pkt[i:i + 1])
            time.sleep(0.01)
        for i in range(8, len(pkt), 65536):
            p.send(pkt[i:i + 65536])
        p.expect_ack(raw.PUBACK, 1)
        for c in subs:
            m = c.recv_publish(timeout=10.0)
            check_eq(len(m.payload), len(payload), "payload length")
            check(m.payload == payload, "payload content")
            c.disconnect()
        p.disconnect()


main(test)
