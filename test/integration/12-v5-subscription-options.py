#!/usr/bin/env python3
"""MQTT 5 subscription options, the cases 12-v5-no-local.py and
12-v5-retain-handling.py leave out: a retained message sent because of
a new subscription has RETAIN 1 whatever Retain As Published says
[MQTT-3.3.1-9]; a live retained PUBLISH keeps RETAIN 1 only with Retain
As Published [MQTT-3.3.1-12/-13], and always RETAIN 0 for a 3.1.1
subscriber; No Local is per subscription: a client's own message
matching a No Local filter and a plain filter arrives once (via the
plain one); No Local is kept in a resumed session."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403

SESSION = {"session_expiry_interval": 60}


def test():
    with Broker() as b:
        pub(b.port, "so/kept", "old", qos=1, retain=True, version=5)
        c = raw.Client(b.port, version=V5)
        c.connect("so-rap")
        c.subscribe([("so/kept", 1 | RETAIN_AS_PUBLISHED)], mid=1)
        m = c.recv_publish(timeout=3.0)
        check_eq((m.payload, m.retain), (b"old", 1), "retained on "
                 "subscribe, RAP 1")
        c.subscribe([("so/+", 1)], mid=2)      # RAP 0
        m = c.recv_publish(timeout=3.0)
        check_eq((m.payload, m.retain), (b"old", 1), "retained on "
                 "subscribe, RAP 0")
        o = raw.Client(b.port, version=V311)
        o.connect("so-311")
        o.subscribe("so/kept", qos=1)
        m = o.recv_publish(timeout=3.0)
        check_eq((m.payload, m.retain), (b"old", 1), "3.1.1: retained on "
                 "subscribe")

        # live retained publish
        pub(b.port, "so/kept", "new", qos=1, retain=True, version=5)
        got = sorted((m.payload, m.retain) for m in drain_publishes(c, 0.3))
        # one PUBLISH (overlap merged) with RETAIN 1 by either rule
        # [MQTT-3.3.4-2] or one per subscription (1 and 0)
        check(got in ([(b"new", 1)], [(b"new", 0), (b"new", 1)]),
              "live retained message, RAP 1 and RAP 0 overlap: %r" % got)
        m = o.recv_publish(timeout=3.0)
        check_eq((m.payload, m.retain), (b"new", 0), "3.1.1: live "
                 "retained message has RETAIN 0")
        c.disconnect()
        o.disconnect()

        # No Local per subscription, kept in the session
        c = raw.Client(b.port, version=V5)
        c.connect("so-nl", properties=SESSION)
        c.subscribe([("so/nl/#", 1 | NO_LOCAL), ("so/nl/both", 1)])
        c.publish("so/nl/both", b"both", qos=1, mid=1)
        c.publish("so/nl/only", b"only", qos=1, mid=2)
        got = [m.payload for m in drain_publishes(c, 0.3)]
        check_eq(got, [b"both"], "own messages: via the plain filter only")
        c.disconnect()
        c = raw.Client(b.port, version=V5)
        ack = c.connect("so-nl", clean=False, properties=SESSION)
        check_eq(ack.session_present, 1, "session resumed")
        c.publish("so/nl/only", b"only-again", qos=1, mid=3)
        other = raw.Client(b.port, version=V5)
        other.connect("so-nl-other")
        other.publish("so/nl/only", b"theirs", qos=1, mid=1)
        got = [m.payload for m in drain_publishes(c, 0.3)]
        check_eq(got, [b"theirs"], "No Local kept in the session")
        other.disconnect()
        c.disconnect()
        c = raw.Client(b.port, version=V5)
        c.connect("so-nl", clean=True)
        c.disconnect()


main(test)
