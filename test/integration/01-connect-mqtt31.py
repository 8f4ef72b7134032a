#!/usr/bin/env python3
"""An MQTT 3.1 client (protocol name MQIsdp, level 3) is accepted and
can subscribe and receive, from a raw client and from mosquitto_sub. A 3.1
CONNACK has no Session Present flag: its first byte is 0, also when a
clean-session-0 client resumes its session."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    with Broker() as b:
        c = raw.Client(b.port, version=V31)
        ack = c.connect("mqtt31-raw", keepalive=30)
        check_eq(ack.session_present, 0, "session present")
        c.subscribe("v31/t", qos=1)
        c.publish("v31/t", b"hello-31", qos=1, mid=7)
        p = c.recv_publish()
        check_eq((p.topic, p.payload, p.qos), ("v31/t", b"hello-31", 1),
                 "message received by the 3.1 client")
        c.disconnect()

        # a persistent session resumed: 3.1.1 would say Session Present 1
        c = raw.Client(b.port, version=V31)
        c.connect("mqtt31-keep", clean=False)
        c.disconnect()
        c = raw.Client(b.port, version=V31)
        c.send(raw.connect("mqtt31-keep", version=V31, clean=False))
        ack = c.expect(raw.CONNACK)
        check_eq((ack.session_present, ack.reason), (0, 0),
                 "3.1 CONNACK of a resumed session: first byte 0, accepted")
        c.disconnect()

        with Sub(b.port, "v31/#", qos=1, version=3, count=3) as s:
            s.wait_ready()
            pub(b.port, "v31/x", ["a", "b", "c"], qos=1, version=4)
            s.wait_count(3)
            check_eq(s.finish(), 0, "mosquitto_sub -V mqttv31 exit status")
            check_eq(s.payloads, ["a", "b", "c"], "payloads")


main(test)
