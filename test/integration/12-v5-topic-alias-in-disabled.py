#!/usr/bin/env python3
"""topic_alias_maximum 0: CONNACK carries no Topic Alias Maximum (or 0,
the same meaning: 3.2.2.3.8) and any Topic Alias from the client gets
DISCONNECT 0x94 [MQTT-3.2.2-17]. (mosquitto: max_topic_alias 0.)"""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403


def test():
    with Broker(**broker_conf(["topic_alias_maximum 0"],
                              ["max_topic_alias 0"])) as b:
        s = raw.Client(b.port, version=V5)
        s.connect("tad-sub")
        s.subscribe("tad/#", qos=1)
        c = raw.Client(b.port, version=V5)
        ack = c.connect("tad-1")
        check(ack.props.get("topic_alias_maximum", 0) == 0,
              "CONNACK Topic Alias Maximum absent or 0: %r" % ack.props)
        # without an alias publishing works
        c.publish("tad/plain", b"ok", qos=1)
        check_eq(s.recv_publish(timeout=3.0).payload, b"ok", "plain publish")
        c.send(raw.publish("tad/x", b"x", qos=1, mid=2, version=V5,
                           properties={"topic_alias": 1}))
        expect_server_disconnect(c, RC_TOPIC_ALIAS_INVALID, "alias 1 with "
                                 "maximum 0")
        s.expect_none(0.2)
        s.ping()
        s.disconnect()


main(test)
