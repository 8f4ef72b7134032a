#!/usr/bin/env python3
"""QoS 2 from a publisher: PUBLISH -> PUBREC(id) -> PUBREL -> PUBCOMP(id);
a PUBLISH resent with DUP=1 before the PUBREL is not delivered twice."""
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
            s.connect("q2-sub-%d" % version)
            s.subscribe("q2/t", qos=2)
            p = raw.Client(b.port, version=version)
            p.connect("q2-pub-%d" % version)

            p.send(raw.publish("q2/t", b"once", qos=2, mid=42,
                               version=version))
            rec = p.expect_ack(raw.PUBREC, 42)
            if version == V5:
                check_eq(rec.reason, 0, "PUBREC reason")
            # the publisher "did not see" the PUBREC and resends
            p.send(raw.publish("q2/t", b"once", qos=2, mid=42, dup=True,
                               version=version))
            p.expect_ack(raw.PUBREC, 42)
            p.send(raw.pubrel(42, version=version))
            comp = p.expect_ack(raw.PUBCOMP, 42)
            if version == V5:
                check_eq(comp.reason, 0, "PUBCOMP reason")
            # PUBREL again (lost PUBCOMP): answered with PUBCOMP again
            p.send(raw.pubrel(42, version=version))
            comp = p.expect_ack(raw.PUBCOMP, 42)
            # the same id may now be reused for a new message
            p.publish("q2/t", b"again", qos=2, mid=42)

            m = s.recv_publish()
            check_eq((m.payload, m.qos), (b"once", 2), "first message")
            m = s.recv_publish()
            check_eq((m.payload, m.qos), (b"again", 2), "second message")
            s.expect_none(0.2)
            p.disconnect()
            s.disconnect()


main(test)
