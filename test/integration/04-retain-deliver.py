#!/usr/bin/env python3
"""A retained message is delivered to a later subscriber with the
retain flag set, at min(publish QoS, subscription QoS); live messages to
a subscriber carry retain 0 (3.1.1; v5 without retain-as-published)."""
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
            topic = "ret/deliver/%d" % version
            pub(b.port, topic, "kept", qos=1, retain=True, version=version)
            for sq in (0, 1, 2):
                s = raw.Client(b.port, version=version)
                s.connect("ret-sub-%d-%d" % (version, sq))
                s.subscribe(topic, qos=sq)
                m = s.recv_publish(timeout=3.0)
                check_eq((m.topic, m.payload, m.retain, m.qos),
                         (topic, b"kept", 1, min(1, sq)),
                         "retained message at subscribe (v%d, sub QoS %d)"
                         % (version, sq))
                s.expect_none(0.05)
                if sq == 1:
                    # a live retained publish to an existing subscriber
                    pub(b.port, topic, "live", qos=1, retain=True,
                        version=version)
                    m = s.recv_publish(timeout=3.0)
                    check_eq((m.payload, m.retain), (b"live", 0),
                             "live message retain flag")
                    # put the first one back for the next subscriber
                    pub(b.port, topic, "kept", qos=1, retain=True,
                        version=version)
                    m = s.recv_publish(timeout=3.0)
                s.disconnect()
            # mosquitto_sub sees the retained flag too
            with Sub(b.port, topic, qos=1, version=version, count=1) as s:
                s.wait_count(1)
                check_eq(s.messages, [(topic, "kept", 1, 1)],
                         "mosquitto_sub: (topic, payload, qos, retain)")


main(test)
