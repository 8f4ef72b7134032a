#!/usr/bin/env python3
"""MQTT 5 Request Problem Information (3.1.2.11.7) and Reason Strings:
with Request Problem Information 0 the server sends no Reason String and
no User Property on acks (PUBACK 0x10, SUBACK with a failure)
[MQTT-3.1.2-29]; with the default (1), ternd's failure acks and its
DISCONNECT (0x94, bad topic alias) carry a non-empty Reason String
(tern-only: mosquitto sends no reason strings; the ternd part uses
wildcard_subscription_available false to get a failing SUBACK)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403

QUIET = ("reason_string", "user_property")


def test():
    conf = {} if is_mosquitto() else \
        {"conf": ["wildcard_subscription_available false"]}
    with Broker(**conf) as b:
        for rpi in (0, 1):
            props = {"request_problem_information": 0} if rpi == 0 else None
            c = raw.Client(b.port, version=V5)
            c.connect("rpi-%d" % rpi, properties=props)
            a = c.publish("rpi/nobody", b"x", qos=1, mid=1)
            check_eq(a.reason, raw.RC_NO_MATCHING_SUBSCRIBERS, "PUBACK")
            c.send(raw.publish("rpi/nobody", b"x", qos=2, mid=2,
                               version=V5))
            r = c.expect_ack(raw.PUBREC, 2)
            c.send(raw.pubrel(2, version=V5))
            c.expect_ack(raw.PUBCOMP, 2)
            sa = c.subscribe([("rpi/+", 1), ("rpi/plain", 1)], mid=3)
            u = c.unsubscribe(["rpi/never"], mid=4)
            check_eq(u.codes, [0x11], "UNSUBACK no subscription existed")
            if rpi == 0:
                for pkt in (a, r, sa, u):
                    for k in QUIET:
                        check(k not in pkt.props, "RPI 0: %s in %r "
                              "[MQTT-3.1.2-29]" % (k, pkt))
            elif not is_mosquitto():
                check_eq(sa.codes, [RC_WILDCARD_SUBS_NOT_SUPPORTED, 1],
                         "SUBACK with a failure")
                check(sa.props.get("reason_string"), "RPI 1: failing "
                      "SUBACK has a Reason String: %r" % sa)
            # a bad topic alias: DISCONNECT 0x94 (RPI 0 may or may not
            # have a reason string on DISCONNECT; RPI 1 must, for ternd)
            c.send(raw.publish("rpi/t", b"x", qos=0, version=V5,
                               properties={"topic_alias": 60000}))
            d = expect_server_disconnect(c, RC_TOPIC_ALIAS_INVALID,
                                         "alias 60000 (RPI %d)" % rpi)
            if rpi == 1 and not is_mosquitto():
                check(d.props.get("reason_string"), "DISCONNECT 0x94 "
                      "has a Reason String: %r" % d)
                log("DISCONNECT reason string: %r"
                    % d.props["reason_string"])


main(test)
