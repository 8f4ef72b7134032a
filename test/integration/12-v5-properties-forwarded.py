#!/usr/bin/env python3
"""MQTT 5 PUBLISH properties are forwarded unchanged to subscribers:
payload format indicator, content type, response topic, correlation
data, user properties (in order)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    with Broker() as b:
        s = raw.Client(b.port, version=V5)
        s.connect("pf-sub")
        s.subscribe("pf/t", qos=1)
        p = raw.Client(b.port, version=V5)
        p.connect("pf-pub")
        props = [("payload_format_indicator", 1),
                 ("content_type", "text/plain"),
                 ("response_topic", "pf/reply"),
                 ("correlation_data", b"\x00\x01corr"),
                 ("user_property", [("k1", "v1"), ("k2", "v2"),
                                    ("k1", "v3")])]
        for qos in (0, 1, 2):
            p.publish("pf/t", "h\u00e9llo".encode(), qos=qos, mid=qos + 1,
                      properties=props)
            m = s.recv_publish(timeout=3.0)
            check_eq(m.payload, "h\u00e9llo".encode(), "payload")
            got = dict(m.props)
            got.pop("subscription_identifier", None)
            check_eq(got, {"payload_format_indicator": 1,
                           "content_type": "text/plain",
                           "response_topic": "pf/reply",
                           "correlation_data": b"\x00\x01corr",
                           "user_property": [("k1", "v1"), ("k2", "v2"),
                                             ("k1", "v3")]},
                     "forwarded properties (QoS %d)" % qos)
        # a 3.1.1 subscriber gets the message without properties
        o = raw.Client(b.port, version=V311)
        o.connect("pf-old")
        o.subscribe("pf/t", qos=1)
        p.publish("pf/t", b"plain", qos=1, mid=9, properties=props)
        check_eq(o.recv_publish().payload, b"plain", "3.1.1 payload")
        s.recv_publish()
        for x in (s, p, o):
            x.disconnect()


main(test)
