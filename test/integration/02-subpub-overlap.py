#!/usr/bin/env python3
"""Overlapping subscriptions of one client: a message matching two
filters (QoS 0 and QoS 2) is delivered at least once at QoS 2 and at most
once per matching subscription (MQTT-3.3.5-1 / MQTT-3.3.4-2)."""
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
            c = raw.Client(b.port, version=version)
            c.connect("overlap-%d" % version)
            ack = c.subscribe([("ov/+", 0), ("ov/#", 2)])
            check_eq(ack.codes, [0, 2], "SUBACK codes")
            p = raw.Client(b.port, version=version)
            p.connect("overlap-pub-%d" % version)
            p.publish("ov/a", b"both", qos=2, mid=5)
            p.publish("ov/a/b", b"one", qos=2, mid=6)
            got = []
            while True:
                m = c.recv_publish(timeout=3.0)
                got.append((m.payload, m.qos))
                if m.payload == b"one":
                    break
            # anything still in flight arrives now
            try:
                while True:
                    m = c.recv_publish(timeout=0.3)
                    got.append((m.payload, m.qos))
            except AssertionError:
                pass
            log("v%d received %r" % (version, got))
            both = [q for (pl, q) in got if pl == b"both"]
            one = [q for (pl, q) in got if pl == b"one"]
            check(1 <= len(both) <= 2, "copies of the overlapping message: "
                  "%r" % got)
            if is_mosquitto() and both == [0]:
                # mosquitto 2.0.11 bug: with a separate publisher, the QoS
                # 2 copy gets a packet id but is never sent
                log("mosquitto 2.0.11: QoS 2 copy lost (known bug)")
            else:
                check_eq(max(both), 2, "max QoS of the overlapping message")
            check_eq(one, [2], "message matching only ov/#")
            c.disconnect()
            p.disconnect()


main(test)
