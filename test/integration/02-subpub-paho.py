#!/usr/bin/env python3
"""Paho Python (MQTT 3.1.1 and 5): N messages at QoS 0, 1 and 2 arrive
exactly once, in order, at the publish QoS."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

N = 200


def test():
    with Broker() as b:
        for version in (4, 5):
            sub = PahoClient(b.port, "paho-sub-%d" % version, version=version)
            pubc = PahoClient(b.port, "paho-pub-%d" % version,
                              version=version)
            try:
                sub.connect()
                pubc.connect()
                for qos in (0, 1, 2):
                    sub.subscribe("paho/%d/q%d" % (version, qos), qos)
                want = []
                for qos in (0, 1, 2):
                    topic = "paho/%d/q%d" % (version, qos)
                    infos = []
                    for i in range(N):
                        payload = ("%d-%d" % (qos, i)).encode()
                        infos.append(pubc.c.publish(topic, payload, qos=qos))
                        want.append((topic, payload, qos, 0))
                    for info in infos:
                        info.wait_for_publish(timeout=10)
                        check(info.is_published(), "Paho publish completed")
                got = sub.wait_count(len(want), timeout=15)
                for qos in (0, 1, 2):
                    topic = "paho/%d/q%d" % (version, qos)
                    check_eq([m for m in got if m[0] == topic],
                             [m for m in want if m[0] == topic],
                             "v%d QoS %d messages" % (version, qos))
                check_eq(len(got), len(want), "total messages")
                pubc.disconnect()
                sub.disconnect()
            finally:
                sub.close()
                pubc.close()


main(test)
