#!/usr/bin/env python3
"""MQTT 5 Receive Maximum of the server: receive_maximum 3 is advertised
in CONNACK (default 1024 when not configured); a client that has more
than 3 QoS 2 PUBLISHes unreleased (PUBREC received, no PUBREL sent)
gets DISCONNECT 0x93 (Receive Maximum exceeded) [MQTT-3.3.4-8]. Within
the limit, releasing one makes room for another. (tern-only settings;
mosquitto's equivalent is max_inflight_messages, with which it answers
a 4th PUBLISH with PUBREC 0x97 instead of disconnecting.)"""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403


def test():
    tern_only("receive_maximum has no mosquitto equivalent")
    with Broker() as b:
        c = raw.Client(b.port, version=V5)
        ack = c.connect("rmi-default")
        check_eq(ack.props.get("receive_maximum", 65535), 1024,
                 "default CONNACK Receive Maximum")
        c.disconnect()
    with Broker(conf=["receive_maximum 3"]) as b:
        s = raw.Client(b.port, version=V5)
        s.connect("rmi-sub")
        s.subscribe("rmi/t", qos=2)
        c = raw.Client(b.port, version=V5)
        ack = c.connect("rmi")
        check_eq(ack.props.get("receive_maximum"), 3,
                 "CONNACK Receive Maximum")
        for mid in (1, 2, 3):
            c.send(raw.publish("rmi/t", b"%d" % mid, qos=2, mid=mid,
                               version=V5))
            check_eq(c.expect_ack(raw.PUBREC, mid).reason, 0,
                     "PUBREC %d" % mid)
        # release one: room for one more
        c.send(raw.pubrel(1, version=V5))
        c.expect_ack(raw.PUBCOMP, 1)
        c.send(raw.publish("rmi/t", b"4", qos=2, mid=4, version=V5))
        c.expect_ack(raw.PUBREC, 4)
        # the server may forward a QoS 2 message on PUBLISH or on PUBREL
        # (4.3.3): 1 at least, 2..4 maybe
        got = [m.payload for m in drain_publishes(s, 0.3)]
        check(got[:1] == [b"1"] and set(got) <= {b"1", b"2", b"3", b"4"},
              "messages delivered before the excess: %r" % got)
        # 2, 3, 4 unreleased: a 4th one is too many
        c.send(raw.publish("rmi/t", b"5", qos=2, mid=5, version=V5))
        expect_server_disconnect(c, RC_RECEIVE_MAXIMUM_EXCEEDED,
                                 "4th unreleased QoS 2 with Receive "
                                 "Maximum 3")
        got = [m.payload for m in drain_publishes(s, 0.3)]
        check(b"5" not in got, "the excess PUBLISH is not forwarded: %r"
              % got)
        s.ping()
        s.disconnect()


main(test)
