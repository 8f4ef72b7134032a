#!/usr/bin/env python3
"""Durability, QoS 2 from a publisher with a persistent session: ternd is
killed (kill -9) after its PUBREC and before the PUBREL. After the
restart the publisher resumes (session present 1) and either resends the
PUBLISH with DUP=1, which is answered with PUBREC and not routed again,
or sends only the PUBREL; both end with PUBCOMP (v5: reason 0, the packet
id was remembered). A persistent subscriber, offline meanwhile, gets each
message exactly once."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from storeutil import *  # noqa: E402,F401,F403


def one(b, v):
    topic = "q2pub/%d" % v
    sub = Receiver(b.port, "q2pub-sub-%d" % v, version=v)
    sub.connect(clean=False, expect_present=0)
    sub.subscribe([(topic, 2)])
    sub.disconnect()

    pub = connect_persistent(b.port, "q2pub-pub-%d" % v, v,
                             expect_present=0)
    # 7: will be resent with DUP; 8: only its PUBREL will be sent
    for mid, payload in ((7, b"resent"), (8, b"released")):
        pub.send(raw.publish(topic, payload, qos=2, mid=mid, version=v))
        rec = pub.expect_ack(raw.PUBREC, mid)
        check_eq(rec.reason, 0, "v%d PUBREC %d reason" % (v, mid))
    crash(b)
    check(pub.wait_closed(3.0) == [], "old publisher connection closed")

    pub = connect_persistent(b.port, "q2pub-pub-%d" % v, v,
                             expect_present=1)
    pub.send(raw.publish(topic, b"resent", qos=2, mid=7, dup=True,
                         version=v))
    rec = pub.expect_ack(raw.PUBREC, 7)
    check_eq(rec.reason, 0, "v%d PUBREC of the resent PUBLISH" % v)
    for mid in (7, 8):
        pub.send(raw.pubrel(mid, version=v))
        comp = pub.expect_ack(raw.PUBCOMP, mid)
        check_eq(comp.reason, 0, "v%d PUBCOMP %d reason (0x92: packet id "
                 "forgotten by the restart)" % (v, mid))
    # a new message with a used id after the flows completed
    pub.send(raw.publish(topic, b"marker", qos=2, mid=7, version=v))
    pub.expect_ack(raw.PUBREC, 7)
    pub.send(raw.pubrel(7, version=v))
    pub.expect_ack(raw.PUBCOMP, 7)

    sub.connect(clean=False, expect_present=1)
    sub.wait_payload(b"marker")
    check_in_order_once(sub.payloads(), [b"resent", b"released", b"marker"],
                        "v%d subscriber" % v)
    check_eq(sub.dups, [], "v%d subscriber: QoS 2 duplicates" % v)
    sub.expect_quiet(0.2)
    sub.end_session()
    pub.disconnect()
    c = raw.Client(b.port, version=v)
    c.connect("q2pub-pub-%d" % v, clean=True)
    c.disconnect()


def test():
    store_only()
    with Broker() as b:
        one(b, V311)
        one(b, V5)


main(test)
