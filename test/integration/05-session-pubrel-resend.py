#!/usr/bin/env python3
"""QoS 2 to a persistent client that sent PUBREC but closed before the
PUBCOMP: on resume the server resends the PUBREL (same packet id), not
the PUBLISH."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def one(b, version):
    cid = "pubrel-%d" % version
    props = {"session_expiry_interval": 300} if version == V5 else None
    c = raw.Client(b.port, version=version)
    c.connect(cid, clean=False, properties=props)
    c.subscribe("pr/t", qos=2)
    p = raw.Client(b.port, version=version)
    p.connect(cid + "-pub")
    p.publish("pr/t", b"x", qos=2, mid=1)
    m = c.expect(raw.PUBLISH)
    c.send(raw.pubrec(m.mid, version=version))
    c.expect_ack(raw.PUBREL, m.mid)
    c.abort()

    c = raw.Client(b.port, version=version)
    ack = c.connect(cid, clean=False, properties=props)
    check_eq(ack.session_present, 1, "session present")
    rel = c.expect(raw.PUBREL)
    check_eq(rel.mid, m.mid, "resent PUBREL packet id")
    c.send(raw.pubcomp(rel.mid, version=version))
    c.expect_none(0.2)
    c.disconnect()
    p.disconnect()
    c = raw.Client(b.port, version=version)
    c.connect(cid, clean=True)
    c.disconnect()


def test():
    with Broker() as b:
        one(b, V311)
        one(b, V5)


main(test)
