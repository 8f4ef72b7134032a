#!/usr/bin/env python3
"""Paho persistent sessions (3.1.1 clean_session False; 5 clean_start
False with session expiry): messages published at QoS 1 and 2 while the
subscriber is away arrive, in order, when it reconnects."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

N = 30


def test():
    with Broker() as b:
        for version in (4, 5):
            cid = "paho-persist-%d" % version
            topic = "pp/%d" % version
            kw = dict(client_id=cid, version=version, clean=False,
                      session_expiry=300 if version == 5 else None)
            c = PahoClient(b.port, **kw)
            try:
                c.connect()
                c.subscribe(topic + "/#", qos=2)
                c.disconnect()
            finally:
                c.close()
            p = PahoClient(b.port, "paho-persist-pub-%d" % version,
                           version=version)
            want = []
            try:
                p.connect()
                for i in range(N):
                    q = 1 + i % 2
                    t = "%s/q%d" % (topic, q)
                    p.publish(t, b"%d" % i, qos=q)
                    want.append((t, b"%d" % i, q, 0))
                p.disconnect()
            finally:
                p.close()
            c = PahoClient(b.port, **kw)
            try:
                flags, rc = c.connect()
                check_eq(rc, 0, "CONNACK code")
                check_eq(flags.get("session present"), 1, "session present")
                got = c.wait_count(N)
                # Paho hands QoS 2 messages over at PUBREL: compare the
                # order per topic (the order MQTT guarantees)
                for q in (1, 2):
                    t = "%s/q%d" % (topic, q)
                    check_eq([m for m in got if m[0] == t],
                             [m for m in want if m[0] == t],
                             "v%d queued messages on %s" % (version, t))
                check_eq(len(got), N, "number of messages")
                c.disconnect()
            finally:
                c.close()


main(test)
