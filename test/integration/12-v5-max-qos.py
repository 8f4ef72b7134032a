#!/usr/bin/env python3
"""max_qos 1: CONNACK Maximum QoS 1; a v5 PUBLISH at QoS 2 gets
DISCONNECT 0x9B (QoS not supported) [MQTT-3.2.2-11], a 3.1.1 one has its
connection closed; SUBSCRIBE at QoS 2 is granted QoS 1 (v5 and 3.1.1)
and messages arrive at QoS 1. (mosquitto: listener option max_qos.)"""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403


def test():
    with Broker(**broker_conf(["max_qos 1"], ["max_qos 1"])) as b:
        s = raw.Client(b.port, version=V5)
        ack = s.connect("mq-sub")
        check_eq(ack.props.get("maximum_qos"), 1, "CONNACK Maximum QoS")
        check_eq(s.subscribe("mq/#", qos=2).codes, [1],
                 "v5 SUBACK for QoS 2")
        o = raw.Client(b.port, version=V311)
        o.connect("mq-311-sub")
        check_eq(o.subscribe("mq/#", qos=2).codes, [1],
                 "3.1.1 SUBACK for QoS 2")
        c = raw.Client(b.port, version=V5)
        c.connect("mq-5")
        c.publish("mq/one", b"q1", qos=1)
        for x, name in ((s, "v5"), (o, "3.1.1")):
            m = x.recv_publish(timeout=3.0)
            check_eq((m.payload, m.qos), (b"q1", 1), "%s subscriber" % name)
        c.send(raw.publish("mq/two", b"q2", qos=2, mid=2, version=V5))
        expect_server_disconnect(c, raw.RC_QOS_NOT_SUPPORTED,
                                 "v5 PUBLISH at QoS 2")
        c = raw.Client(b.port, version=V311)
        c.connect("mq-311")
        c.send(raw.publish("mq/two", b"q2-311", qos=2, mid=2))
        got = c.wait_closed(5.0)
        check_eq(got, [], "3.1.1 client: closed without any packet")
        c.close()
        check_eq(drain_many([s, o]), [[], []], "QoS 2 messages refused")
        for x in (s, o):
            x.disconnect()


main(test)
