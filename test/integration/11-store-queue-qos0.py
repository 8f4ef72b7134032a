#!/usr/bin/env python3
"""queue_qos0_messages: off (the default), QoS 0 messages for an offline
persistent session are dropped; on, they are queued, survive a kill -9
with the store on, and arrive at QoS 0, in order, when the client comes
back. A QoS 1 message behind them on a second subscription both forces
the commit (its PUBACK waits for it) and shows where the queue ends."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

N = 5


def one(on):
    conf = ["queue_qos0_messages true"] if on else []
    with Broker(conf=conf) as b:
        c = raw.Client(b.port, version=V311)
        c.connect("q0-sub", clean=False)
        c.subscribe([("q0/t", 0), ("q0/sync", 1)])
        c.disconnect()
        p = raw.Client(b.port, version=V311)
        p.connect("q0-pub")
        for i in range(N):
            p.publish("q0/t", b"m%d" % i, qos=0)
        p.publish("q0/sync", b"sync", qos=1, mid=1)   # waits for PUBACK
        p.disconnect()
        if on:
            b.restart(graceful=False)    # kill -9, then start again
        c = raw.Client(b.port, version=V311)
        ack = c.connect("q0-sub", clean=False)
        check_eq(ack.session_present, 1, "session present")
        got = []
        while True:
            m = c.recv_publish(timeout=5.0)
            got.append((m.payload, m.qos))
            if m.payload == b"sync":
                break
        want = [(b"m%d" % i, 0) for i in range(N)] if on else []
        check_eq(got[:-1], want, "queued QoS 0 messages (option %s)" %
                 ("on" if on else "off"))
        check_eq(got[-1], (b"sync", 1), "the QoS 1 message last")
        c.disconnect()
        c = raw.Client(b.port, version=V311)
        c.connect("q0-sub", clean=True)
        c.disconnect()


def test():
    tern_only("queue_qos0_messages with the durable store")
    one(False)
    one(True)


main(test)
