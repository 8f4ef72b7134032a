#!/usr/bin/env python3
"""A resumed v5 session honours the Receive Maximum of the new
connection (MQTT-3.3.4-9): a client that received 10 QoS 1 messages
with Receive Maximum 10 and acknowledged none reconnects (clean start 0)
with Receive Maximum 1; it gets the 10 again one at a time (the next only
after the PUBACK of the previous), each with DUP=1 and its old packet id,
in order; the messages queued while it was away follow (DUP=0), then
nothing more."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import publishes, recv_or_none  # noqa: E402

N = 10
LATER = 3
EXPIRY = {"session_expiry_interval": 60}


def one_at_a_time(c, count, what):
    """Receive count PUBLISH packets; after each, check that no other
    comes before it is acknowledged, then acknowledge it."""
    out = []
    for i in range(count):
        m = publishes(c, 1, timeout=5.0, what="%s %d" % (what, i + 1))[0]
        check_eq(m.qos, 1, "%s %d: QoS" % (what, i + 1))
        extra = recv_or_none(c, 0.3)
        check(extra is None, "%s %d: another packet before the PUBACK "
              "(Receive Maximum 1): %r" % (what, i + 1, extra))
        out.append(m)
        c.send(raw.puback(m.mid, version=V5))
    return out


def test():
    # mosquitto 2.0.11 resends every in-flight message at once
    tern_only("Receive Maximum of the resumed connection")
    with Broker() as b:
        a = raw.Client(b.port, version=V5)
        a.connect("rm-resume", properties=dict(EXPIRY, receive_maximum=N))
        a.subscribe("rm/#", qos=1)
        p = raw.Client(b.port, version=V5)
        p.connect("rm-publisher")
        for i in range(N):
            p.publish("rm/x", b"m%d" % i, qos=1, mid=i + 1)
        first = publishes(a, N, timeout=5.0, what="first delivery")
        check_eq([m.payload for m in first], [b"m%d" % i for i in range(N)],
                 "first delivery, in order")
        check_eq([m.dup for m in first], [0] * N, "first delivery: DUP=0")
        mids = [m.mid for m in first]
        check_eq(len(set(mids)), N, "distinct packet ids in flight")
        # no PUBACK at all; leave with the session kept
        a.send(raw.disconnect(V5, 0))
        a.wait_closed(3.0)
        a.close()
        # more while it is away: queued, never sent
        for i in range(N, N + LATER):
            p.publish("rm/x", b"m%d" % i, qos=1, mid=i + 1)
        p.disconnect()

        a = raw.Client(b.port, version=V5)
        ack = a.connect("rm-resume", clean=False,
                        properties=dict(EXPIRY, receive_maximum=1))
        check_eq(ack.session_present, 1, "session present")
        again = one_at_a_time(a, N, "resent")
        check_eq([m.payload for m in again], [b"m%d" % i for i in range(N)],
                 "resent messages, in order")
        check_eq([m.dup for m in again], [1] * N, "resent with DUP=1")
        check_eq([m.mid for m in again], mids, "resent with the same ids")
        later = one_at_a_time(a, LATER, "queued")
        check_eq([m.payload for m in later],
                 [b"m%d" % i for i in range(N, N + LATER)],
                 "queued messages after the resent ones, in order")
        check_eq([m.dup for m in later], [0] * LATER, "queued: DUP=0")
        a.expect_none(0.3)
        a.ping()
        a.disconnect()


main(test)
