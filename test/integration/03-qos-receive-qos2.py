#!/usr/bin/env python3
"""QoS 2 to a subscriber: PUBLISH(id) -> PUBREC -> PUBREL(id) -> PUBCOMP;
messages in flight at the same time have distinct non-zero packet ids;
DUP is 0 on first delivery."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    with Broker() as b:
        for version in (V311, V5):
            s = raw.Client(b.port, version=version)
            s.connect("r2-sub-%d" % version)
            s.subscribe("r2/t", qos=2)
            p = raw.Client(b.port, version=version)
            p.connect("r2-pub-%d" % version)
            for i in range(5):
                p.publish("r2/t", b"%d" % i, qos=2, mid=i + 1)
            # read all five without acknowledging: all in flight
            ms = [s.expect(raw.PUBLISH) for _ in range(5)]
            check_eq([m.payload for m in ms], [b"%d" % i for i in range(5)],
                     "payloads in order")
            ids = [m.mid for m in ms]
            check(all(1 <= i <= 65535 for i in ids), "packet ids %r" % ids)
            check_eq(len(set(ids)), 5, "distinct packet ids %r" % ids)
            check_eq([m.dup for m in ms], [0] * 5, "DUP flags")
            check_eq([m.qos for m in ms], [2] * 5, "QoS")
            for m in ms:
                s.send(raw.pubrec(m.mid, version=version))
            for m in ms:
                rel = s.expect_ack(raw.PUBREL, m.mid)
                check_eq(rel.flags, 2, "PUBREL fixed header flags")
            for m in ms:
                s.send(raw.pubcomp(m.mid, version=version))
            s.expect_none(0.2)
            # still working after the flow
            p.publish("r2/t", b"after", qos=2, mid=9)
            check_eq(s.recv_publish().payload, b"after", "next message")
            p.disconnect()
            s.disconnect()


main(test)
