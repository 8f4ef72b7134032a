#!/usr/bin/env python3
"""MQTT 5: a persistent session resumed with Clean Start 0 and no Session
Expiry Interval (so 0: the session ends with this connection), as several
SDKs reconnect, gets Session Present 1 and everything queued while it was
offline (QoS 1 and QoS 2, in order), although the session ends when that
connection closes: the next reconnect finds no session. Run with the
store on (the offline queue is on disk) and off (in memory). mosquitto
2.0.11 delivers too."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

N = 6


def once(conf, tag):
    with Broker(conf=conf) as b:
        cid = "sd-" + tag
        c = raw.Client(b.port, version=V5)
        c.connect(cid, clean=True,
                  properties={"session_expiry_interval": 99999})
        c.subscribe("sd/+", qos=2)
        c.disconnect()

        p = raw.Client(b.port, version=V5)
        p.connect(cid + "-pub")
        want = []
        for i in range(N):
            q = 1 + i % 2
            ack = p.publish("sd/x", b"%s-%d" % (tag.encode(), i), qos=q,
                            mid=i + 1)
            check(ack is not None and ack.reason < 0x80,
                  "%s: message %d acknowledged (got %r)" % (tag, i, ack))
            want.append((b"%s-%d" % (tag.encode(), i), q))

        c = raw.Client(b.port, version=V5)
        ack = c.connect(cid, clean=False)  # no Session Expiry Interval
        check_eq(ack.session_present, 1, "%s: session present" % tag)
        got = []
        for _ in range(N):
            m = c.recv_publish(timeout=5.0)
            got.append((m.payload, m.qos))
        check_eq(got, want, "%s: queued messages on a resume with expiry "
                 "0" % tag)
        # still a live session while connected: new messages arrive too
        p.publish("sd/x", b"live", qos=1, mid=100)
        m = c.recv_publish(timeout=5.0)
        check_eq(m.payload, b"live", "%s: message while connected" % tag)
        c.expect_none(0.2)
        c.disconnect()

        # expiry 0: the session ended with that connection
        p.publish("sd/x", b"after", qos=1, mid=101)
        c = raw.Client(b.port, version=V5)
        ack = c.connect(cid, clean=False,
                        properties={"session_expiry_interval": 60})
        check_eq(ack.session_present, 0,
                 "%s: session present after the expiry-0 connection "
                 "ended" % tag)
        c.expect_none(0.3)
        c.disconnect()
        p.disconnect()


def test():
    once([], "store")
    if not is_mosquitto():
        once(["store off"], "nostore")


main(test)
