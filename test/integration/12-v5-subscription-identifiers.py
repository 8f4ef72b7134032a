#!/usr/bin/env python3
"""MQTT 5 Subscription Identifiers (3.8.2.1.2, 3.3.4): a message carries
the identifier of the matching subscription [MQTT-3.3.4-3]; when several
subscriptions of one client match, ternd sends one PUBLISH carrying all
their identifiers [MQTT-3.3.4-4] (mosquitto sends one copy per
subscription, each with its identifier, also allowed: [MQTT-3.3.4-5]); a subscription made without an identifier
adds none; re-subscribing with another identifier replaces it; retained
messages sent on subscribing carry the identifier too; 3.1.1 clients
get no properties."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403


def ids(m):
    return sorted(m.props.get("subscription_identifier", []))


def test():
    with Broker() as b:
        pub(b.port, "si/retained", "r", qos=1, retain=True, version=5)
        c = raw.Client(b.port, version=V5)
        ack = c.connect("si")
        check(ack.props.get("subscription_identifier_available", 1) == 1,
              "CONNACK Subscription Identifiers Available: %r" % ack.props)
        c.subscribe("si/a", qos=1, mid=1,
                    properties={"subscription_identifier": 1})
        c.subscribe("si/+", qos=1, mid=2,
                    properties={"subscription_identifier": 268435455})
        c.subscribe("si/#", qos=1, mid=3)          # no identifier
        c.subscribe("si/b", qos=1, mid=4,
                    properties={"subscription_identifier": 300})
        m = c.recv_publish(timeout=3.0)
        # the retained message goes out once per subscribe that matches
        # it: si/+ (id 268435455) and si/# (no id)
        got = [m] + drain_publishes(c, 0.3)
        check_eq(sorted((x.topic, tuple(ids(x))) for x in got),
                 [("si/retained", ()), ("si/retained", (268435455,))],
                 "retained messages sent on subscribing")

        o = raw.Client(b.port, version=V311)
        o.connect("si-311")
        o.subscribe("si/#", qos=1)
        p = raw.Client(b.port, version=V5)
        p.connect("si-pub")
        # a publisher's own identifier would be a protocol error; none here
        p.publish("si/a", b"A", qos=1, mid=1)
        p.publish("si/b", b"B", qos=1, mid=2)
        p.publish("si/c/d", b"CD", qos=1, mid=3)
        got = drain_publishes(c, 0.3)
        # per message: the identifiers of the matching subscriptions
        # (None: a subscription without identifier)
        want = {b"A": [1, 268435455, None], b"B": [300, 268435455, None],
                b"CD": [None]}
        for payload, subs in want.items():
            copies = [x for x in got if x.payload == payload]
            if len(copies) == 1:
                check_eq(ids(copies[0]), sorted(i for i in subs if i),
                         "one copy of %r carries all identifiers "
                         "[MQTT-3.3.4-4]" % payload)
            else:
                # mosquitto sends one copy per matching subscription
                check(is_mosquitto(), "ternd sends one copy per client: "
                      "%r" % copies)
                check_eq(sorted(tuple(ids(x)) for x in copies),
                         sorted((i,) if i else () for i in subs),
                         "one identifier per copy of %r [MQTT-3.3.4-5]"
                         % payload)
        check_eq(len([x for x in got if x.payload not in want]), 0,
                 "no other message")
        for _ in range(3):
            x = o.recv_publish(timeout=3.0)
            check_eq(x.props, {}, "3.1.1 client: no properties")

        # replace the identifier of si/a; remove it from si/+
        c.subscribe("si/a", qos=1, mid=5,
                    properties={"subscription_identifier": 2})
        c.subscribe("si/+", qos=1 | RH_NEVER, mid=6)
        p.publish("si/a", b"A2", qos=1, mid=4)
        got = drain_publishes(c, 0.3)
        check_eq(sorted(tuple(ids(x)) for x in got if x.payload == b"A2"),
                 [(2,)] if len(got) == 1 else [(), (), (2,)],
                 "identifiers after re-subscribing")
        for s in (c, o, p):
            s.disconnect()


main(test)
