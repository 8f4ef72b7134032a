#!/usr/bin/env python3
"""MQTT 5 request/response and properties across versions: a request
with Response Topic and Correlation Data reaches the responder
unchanged [MQTT-3.3.2-15, -16]; the response published on that topic
with the same Correlation Data reaches the requester; User Properties
with repeated keys keep their order [MQTT-3.3.2-18]; a 3.1.1 publisher
-> v5 subscriber gives topic, payload, QoS and no properties; a v5
publisher with properties -> 3.1.1 subscriber gives topic, payload,
QoS; Content Type and Payload Format Indicator are forwarded."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403

UP = [("k", "1"), ("a", "x"), ("k", "2"), ("k", "1"), ("b", ""),
      ("a", "y"), ("\u00e9", "\u00fc")]


def props_of(m):
    p = dict(m.props)
    p.pop("subscription_identifier", None)
    return p


def test():
    with Broker() as b:
        responder = raw.Client(b.port, version=V5)
        responder.connect("rr-responder")
        responder.subscribe("rr/req", qos=1)
        requester = raw.Client(b.port, version=V5)
        requester.connect("rr-requester")
        requester.subscribe("rr/resp/requester", qos=1)
        old = raw.Client(b.port, version=V311)
        old.connect("rr-311")
        old.subscribe("rr/#", qos=2)

        req_props = [("response_topic", "rr/resp/requester"),
                     ("correlation_data", b"\x00\xffid-42"),
                     ("content_type", "application/json"),
                     ("payload_format_indicator", 1),
                     ("user_property", UP)]
        requester.publish("rr/req", b'{"q":1}', qos=1, mid=1,
                          properties=req_props)
        m = responder.recv_publish(timeout=3.0)
        check_eq((m.topic, m.payload, m.qos), ("rr/req", b'{"q":1}', 1),
                 "request")
        check_eq(props_of(m), {"response_topic": "rr/resp/requester",
                               "correlation_data": b"\x00\xffid-42",
                               "content_type": "application/json",
                               "payload_format_indicator": 1,
                               "user_property": UP},
                 "request properties, user properties in order")
        responder.publish(m.props["response_topic"], b"answer", qos=1,
                          mid=2, properties={"correlation_data":
                                             m.props["correlation_data"]})
        r = requester.recv_publish(timeout=3.0)
        check_eq((r.topic, r.payload, props_of(r)),
                 ("rr/resp/requester", b"answer",
                  {"correlation_data": b"\x00\xffid-42"}), "response")
        # the 3.1.1 subscriber saw both, without properties
        got = [old.recv_publish(timeout=3.0) for _ in range(2)]
        check_eq([(x.topic, x.payload, x.qos) for x in got],
                 [("rr/req", b'{"q":1}', 1),
                  ("rr/resp/requester", b"answer", 1)],
                 "3.1.1 subscriber: topic, payload, QoS")

        # 3.1.1 publisher -> v5 subscriber
        v5 = raw.Client(b.port, version=V5)
        v5.connect("rr-v5")
        v5.subscribe("rr/old", qos=2)
        op = raw.Client(b.port, version=V311)
        op.connect("rr-311-pub")
        for q in (0, 1, 2):
            op.publish("rr/old", b"from-311-q%d" % q, qos=q, mid=10 + q)
            x = v5.recv_publish(timeout=3.0)
            check_eq((x.topic, x.payload, x.qos, props_of(x)),
                     ("rr/old", b"from-311-q%d" % q, q, {}),
                     "3.1.1 -> v5 at QoS %d" % q)
            x = old.recv_publish(timeout=3.0)
            check_eq((x.topic, x.payload, x.qos),
                     ("rr/old", b"from-311-q%d" % q, q), "3.1.1 -> 3.1.1")
        for c in (responder, requester, old, v5, op):
            c.disconnect()


main(test)
