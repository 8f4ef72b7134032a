#!/usr/bin/env python3
"""A client closed without DISCONNECT (raw socket close, and a TCP
reset) has its will published, at the will QoS (3.1.1 and 5)."""
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
            s = raw.Client(b.port, version=version)
            s.connect("will-watch-%d" % version)
            s.subscribe("will/#", qos=2)
            for how in ("close", "reset"):
                for wq in (0, 1, 2):
                    c = raw.Client(b.port, version=version)
                    topic = "will/%d/%s/q%d" % (version, how, wq)
                    c.connect("will-%d-%s-%d" % (version, how, wq),
                              will=(topic, b"bye-" + how.encode(), wq,
                                    False))
                    c.ping()
                    if how == "close":
                        c.close()
                    else:
                        c.abort()
                    m = s.recv_publish(timeout=3.0)
                    check_eq((m.topic, m.payload, m.qos, m.retain),
                             (topic, b"bye-" + how.encode(), wq, 0),
                             "will message")
            s.expect_none(0.1)
            s.disconnect()


main(test)
