#!/usr/bin/env python3
"""A persistent mosquitto_sub (-c -i ID -q 1) that exits, then misses
QoS 1 and 2 messages, gets all of them in order when it comes back
(MQTT 3.1.1 and 5)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

N = 50


def test():
    with Broker() as b:
        for version in (4, 5):
            cid = "msub-persist-%d" % version
            topic = "ms/%d" % version
            # first run: subscribe, then exit at once (-E)
            run([MOSQUITTO_SUB, "-V", {4: "mqttv311", 5: "mqttv5"}[version],
                 "-h", HOST, "-p", str(b.port), "-c", "-i", cid, "-q", "2",
                 "-t", topic, "-E"], timeout=10, check_rc=0)
            # libmosquitto 2.0.11 fails with "protocol error" beyond ~20
            # incoming v5 QoS 2 messages in flight: fewer QoS 2 for v5
            n1, n2 = (N // 2, N // 2) if version == 4 else (N // 2, 10)
            want = ["m%03d" % i for i in range(n1 + n2)]
            pub(b.port, topic, want[:n1], qos=1, version=version)
            pub(b.port, topic, want[n1:], qos=2, version=version)
            with Sub(b.port, topic, qos=2, version=version, count=n1 + n2,
                     client_id=cid, clean=False) as s:
                s.wait_count(n1 + n2)
                check_eq(s.finish(), 0, "mosquitto_sub exit status")
                check_eq(s.payloads, want, "queued messages")
                check_eq([m[2] for m in s.messages],
                         [1] * n1 + [2] * n2, "QoS")
            # end the session
            run([MOSQUITTO_SUB, "-V", {4: "mqttv311", 5: "mqttv5"}[version],
                 "-h", HOST, "-p", str(b.port), "-i", cid, "-t", topic,
                 "-E"], timeout=10, check_rc=0)


main(test)
