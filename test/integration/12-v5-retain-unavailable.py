#!/usr/bin/env python3
"""retain_available false: CONNACK Retain Available 0; a v5 PUBLISH with
RETAIN 1 gets DISCONNECT 0x9A (Retain not supported) [MQTT-3.2.2-14];
a 3.1.1 one has its connection closed; nothing is retained and the
message is not forwarded; PUBLISH without RETAIN still works."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403


def test():
    with Broker(**broker_conf(["retain_available false"],
                              ["retain_available false"])) as b:
        s = raw.Client(b.port, version=V5)
        ack = s.connect("ru-sub")
        check_eq(ack.props.get("retain_available"), 0,
                 "CONNACK Retain Available")
        s.subscribe("ru/#", qos=1)
        c = raw.Client(b.port, version=V5)
        c.connect("ru-5")
        c.publish("ru/plain", b"ok", qos=1)
        check_eq(s.recv_publish(timeout=3.0).payload, b"ok", "plain publish")
        c.send(raw.publish("ru/kept", b"no", qos=1, mid=2, retain=True,
                           version=V5))
        expect_server_disconnect(c, RC_RETAIN_NOT_SUPPORTED,
                                 "v5 PUBLISH with RETAIN")
        c = raw.Client(b.port, version=V311)
        ack = c.connect("ru-311")
        c.send(raw.publish("ru/kept", b"no311", qos=0, retain=True))
        got = c.wait_closed(5.0)
        check_eq(got, [], "3.1.1 client: closed without any packet")
        c.close()
        got = drain_publishes(s, 0.3)
        check_eq([m.payload for m in got], [], "refused messages are not "
                 "forwarded")
        # and nothing was retained
        n = raw.Client(b.port, version=V5)
        n.connect("ru-new")
        n.subscribe("ru/#", qos=1)
        check(recv_or_none(n, 0.3) is None, "no retained message")
        for x in (n, s):
            x.disconnect()


main(test)
