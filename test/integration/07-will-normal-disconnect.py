#!/usr/bin/env python3
"""No will is published when the client sends DISCONNECT (3.1.1, and v5
reason 0x00), from a raw client and from mosquitto_pub."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    with Broker() as b:
        s = raw.Client(b.port, version=V311)
        s.connect("nowill-watch")
        s.subscribe("nw/#", qos=1)
        for version in (V311, V5):
            c = raw.Client(b.port, version=version)
            c.connect("nowill-%d" % version,
                      will=("nw/will/%d" % version, b"should-not", 1, False))
            c.ping()
            c.disconnect()
            pub(b.port, "nw/x", "m", qos=1, version=version,
                extra=["--will-topic", "nw/will/pub%d" % version,
                       "--will-payload", "should-not"])
        # the marker comes after anything the broker would have sent
        s.publish("nw/marker", b"end", qos=1)
        got = []
        while True:
            m = s.recv_publish(timeout=3.0)
            got.append(m.topic)
            if m.topic == "nw/marker":
                break
        check_eq(got, ["nw/x", "nw/x", "nw/marker"], "messages seen")
        s.disconnect()


main(test)
