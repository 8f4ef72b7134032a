#!/usr/bin/env python3
"""One SUBSCRIBE that lists the same filter many times sends each
matching retained message once, not once per copy (a 60-byte packet
must not make the broker queue 50 times its retained store): 200
retained messages under r/, 'r/#' listed 50 times -> exactly 200
PUBLISH packets, each topic once; the later copy's options win (listed
49 times at QoS 0 then once at QoS 1: the 200 come once, at QoS 1).
tern-only: the spec's "as if a sequence of SUBSCRIBE packets" reading
(mosquitto) resends them for every copy."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

N = 200
COPIES = 50


def receive_all(c, n, ack=True):
    """Read exactly n PUBLISH packets, then check that no more come."""
    got = []
    for _ in range(n):
        m = c.recv_publish(timeout=5.0, ack=ack)
        got.append(m)
    try:
        c.expect_none(0.5)
    except AssertionError as e:
        raise TestFailure("more than %d PUBLISH packets: %s" % (n, e))
    return got


def test():
    tern_only("one retained copy per repeated filter")
    with Broker() as b:
        p = raw.Client(b.port, version=V311)
        p.connect("retained-publisher")
        # at QoS 1, all at once, then their PUBACKs
        p.send(b"".join(raw.publish("r/%03d" % i, b"v%d" % i, qos=1,
                                    retain=True, mid=i + 1)
                        for i in range(N)))
        for i in range(N):
            p.expect_ack(raw.PUBACK, i + 1)
        p.disconnect()
        expected = sorted(("r/%03d" % i, b"v%d" % i) for i in range(N))

        for version in (V311, V5):
            # QoS 0, the same filter 50 times
            c = raw.Client(b.port, version=version)
            c.connect("dedupe-q0-%d" % version)
            ack = c.subscribe([("r/#", 0)] * COPIES, mid=2)
            check_eq(ack.codes, [0] * COPIES, "SUBACK: one code per entry")
            got = receive_all(c, N)
            check_eq(sorted((m.topic, m.payload) for m in got), expected,
                     "v%d: each retained message exactly once" % version)
            check(all(m.retain == 1 and m.qos == 0 for m in got),
                  "v%d: retained flag set, QoS 0" % version)
            # still one subscription: a live message comes once
            c.publish("r/live", b"live", qos=0)
            m = c.recv_publish(timeout=3.0)
            check_eq((m.topic, m.retain), ("r/live", 0), "live message")
            c.expect_none(0.2)
            c.disconnect()

            # the later copy wins: 49 x QoS 0, then QoS 1
            c = raw.Client(b.port, version=version)
            c.connect("dedupe-q1-%d" % version)
            ack = c.subscribe([("r/#", 0)] * (COPIES - 1) + [("r/#", 1)],
                              mid=3)
            check_eq(ack.codes, [0] * (COPIES - 1) + [1], "SUBACK codes")
            got = receive_all(c, N)
            check_eq(sorted((m.topic, m.payload) for m in got), expected,
                     "v%d: each retained message exactly once (QoS 1 last)"
                     % version)
            check_eq(sorted(set(m.qos for m in got)), [1],
                     "v%d: retained messages at the last copy's QoS"
                     % version)
            c.disconnect()


main(test)
