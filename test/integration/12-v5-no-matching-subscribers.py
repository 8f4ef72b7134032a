#!/usr/bin/env python3
"""MQTT 5 reason code 0x10 (No matching subscribers): PUBACK and PUBREC
carry 0x10 when no subscription matches (3.4.2.1, 3.5.2.1; a MAY in
the spec, ternd's contract; mosquitto's PUBREC says 0x00), the QoS 2
flow then completes normally; 0x00 once a subscription (plain or
shared, of any client) matches, and again 0x10 after unsubscribing."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403

NMS = raw.RC_NO_MATCHING_SUBSCRIBERS


def qos2(c, topic, mid):
    c.send(raw.publish(topic, b"x", qos=2, mid=mid, version=V5))
    rec = c.expect_ack(raw.PUBREC, mid)
    c.send(raw.pubrel(mid, version=V5))
    comp = c.expect_ack(raw.PUBCOMP, mid)
    check_eq(comp.reason, 0, "PUBCOMP reason")
    return rec.reason


def test():
    with Broker() as b:
        p = raw.Client(b.port, version=V5)
        p.connect("nms-pub")
        check_eq(p.publish("nms/t", b"x", qos=1, mid=1).reason, NMS,
                 "PUBACK, nobody subscribed")
        rc = qos2(p, "nms/t", 2)
        if is_mosquitto() and rc == 0:
            # 0x10 is a MAY; mosquitto 2.0.11 routes QoS 2 on PUBREL, so
            # its PUBREC says 0x00: 0x10 in PUBREC is checked for ternd
            log("mosquitto: PUBREC 0x00 without subscribers")
        else:
            check_eq(rc, NMS, "PUBREC, nobody subscribed")
        s = raw.Client(b.port, version=V5)
        s.connect("nms-sub")
        s.subscribe("nms/+", qos=0)
        check_eq(p.publish("nms/t", b"x", qos=1, mid=3).reason, 0,
                 "PUBACK with a subscriber")
        check_eq(qos2(p, "nms/t", 4), 0, "PUBREC with a subscriber")
        check_eq(p.publish("nms/other/level", b"x", qos=1, mid=5).reason,
                 NMS, "PUBACK, subscription does not match")
        s.unsubscribe("nms/+")
        check_eq(p.publish("nms/t", b"x", qos=1, mid=6).reason, NMS,
                 "PUBACK after unsubscribing")
        s.subscribe("$share/g/nms/t", qos=1)
        check_eq(p.publish("nms/t", b"x", qos=1, mid=7).reason, 0,
                 "PUBACK with a shared subscriber")
        drain_publishes(s, 0.2)
        for c in (p, s):
            c.disconnect()


main(test)
