#!/usr/bin/env python3
"""QoS 2: mosquitto_pub -l sends N messages in one connection; a
mosquitto_sub at QoS 2 receives exactly N, in order, no duplicates, at
QoS 2 (MQTT 3.1.1 and 5)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import Broker, Sub, pub, check_eq, main  # noqa: E402

QOS = 2
N = 200


def test():
    with Broker() as b:
        for version in (4, 5):
            topic = "subpub/qos%d/v%d" % (QOS, version)
            # libmosquitto 2.0.11 (mosquitto_sub) fails with "protocol
            # error" once ~20 incoming v5 QoS 2 messages are in flight
            # (its Receive Maximum accounting); keep the v5 burst below
            # that. 02-subpub-paho covers a long v5 QoS 2 burst.
            n = N if version == 4 else 15
            msgs = ["m%d-%04d" % (version, i) for i in range(n)]
            with Sub(b.port, topic, qos=QOS, version=version, count=n,
                     wait_secs=20) as s:
                s.wait_ready()
                pub(b.port, topic, msgs, qos=QOS, version=version)
                s.wait_count(n, timeout=10)
                check_eq(s.finish(), 0, "mosquitto_sub exit status")
                check_eq(s.payloads, msgs, "payloads (v%d)" % version)
                check_eq({m[2] for m in s.messages}, {QOS},
                         "delivered QoS (v%d)" % version)
                check_eq({m[0] for m in s.messages}, {topic}, "topics")
                check_eq(sum(s.dups), 0, "PUBLISHes with DUP set")


main(test)
