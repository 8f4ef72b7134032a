#!/usr/bin/env python3
"""Who may read and write $events/.

A. No acl_file: SUBSCRIBE to $events/#, $events/client/connected and
   $share/g/$events/# is refused (v5 0x87, 3.1.1 0x80), alone in its
   SUBSCRIBE (the other filter is granted); a client that subscribed
   to # gets no event when another connects.
B. An ACL that grants backend read on $events/# and everybody
   readwrite on # and on $events/# (which must not let anyone write
   there): mallory's v5 QoS 1 PUBLISH to $events/client/connected is
   answered 0x87, her QoS 0 and 3.1.1 QoS 1 ones are dropped, and
   backend gets none of them, only the dropped events that count them
   (not_authorized); a will on $events/x is refused (CONNACK 0x87).
   A user without the grant may not subscribe there; "topic read #"
   is not a grant of $events/.
C. backend's persistent session holds $events/# (granted under that
   ACL) when the node restarts without acl_file: it resumes with its
   subscription, and gets no event (its own connect, another client's)."""
import json
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402
from authutil import acl_file, RC_NOT_AUTHORIZED  # noqa: E402
from v5util import recv_or_none  # noqa: E402

ACL = """user backend
topic read $events/#
user mallory
topic readwrite #
topic readwrite $events/#
user reader
topic read #
"""


def drain(c, t=1.0, n=50):
    got = []
    for _ in range(n):
        p = recv_or_none(c, t)
        if p is None:
            break
        c.ack(p)
        got.append(p)
    return got


def test():
    tern_only("$events/")
    # A
    with Broker() as b:
        v5 = raw.Client(b.port, version=V5)
        v5.connect("watch5")
        check_eq(v5.subscribe([("$events/#", 1), ("im/#", 1),
                               ("$events/client/connected", 0),
                               ("$share/g/$events/#", 1)]).codes,
                 [RC_NOT_AUTHORIZED, 1, RC_NOT_AUTHORIZED,
                  RC_NOT_AUTHORIZED],
                 "A: v5, $events filters refused without acl_file")
        v3 = raw.Client(b.port, version=V311)
        v3.connect("watch3")
        check_eq(v3.subscribe([("$events/#", 1), ("im/#", 0)]).codes,
                 [0x80, 0], "A: 3.1.1, refused without acl_file")
        every = raw.Client(b.port, version=V5)
        every.connect("every")
        every.subscribe("#", qos=1)
        c = raw.Client(b.port, version=V5)
        c.connect("someone")
        c.disconnect()
        got = drain(every, 0.5) + drain(v5, 0.2) + drain(v3, 0.2)
        check_eq([p.topic for p in got], [], "A: nobody gets an event")
        for x in (v5, v3, every):
            x.disconnect()

    # B
    acl = acl_file(ACL)
    with Broker(conf=["acl_file %s" % acl]) as b:
        be = raw.Client(b.port, version=V5)
        be.connect("backend", username="backend")
        check_eq(be.subscribe("$events/#", qos=1).codes, [1],
                 "B: backend's grant")
        m = raw.Client(b.port, version=V5)
        m.connect("mallory", username="mallory")
        ack = m.publish("$events/client/connected",
                        b'{"event":"connected","client_id":"fake"}',
                        qos=1, mid=1)
        check_eq(ack.reason, RC_NOT_AUTHORIZED,
                 "B: v5 QoS 1 on $events/ refused")
        m.publish("$events/client/disconnected", b"{}", qos=0)
        m.ping()
        m3 = raw.Client(b.port, version=V311)
        m3.connect("mallory-3", username="mallory")
        m3.publish("$events/session/taken_over", b"{}", qos=1, mid=1)
        m3.ping()
        w = raw.Client(b.port, version=V5)
        w.connect("mallory-will", username="mallory",
                  will=("$events/x", b"{}", 0, False),
                  rc=RC_NOT_AUTHORIZED)
        w.close()
        r = raw.Client(b.port, version=V5)
        r.connect("reader", username="reader")
        check_eq(r.subscribe([("$events/#", 1), ("#", 1)]).codes,
                 [RC_NOT_AUTHORIZED, 1],
                 "B: read # is no grant of $events/")
        got = drain(be, 1.5)
        topics = [p.topic for p in got]
        check("$events/session/taken_over" not in topics,
              "B: mallory's messages not delivered: %r" % topics)
        drops = [json.loads(p.payload) for p in got
                 if p.topic == "$events/message/dropped"]
        counts = {}
        for d in drops:
            k = (d["client_id"], d["reason"])
            counts[k] = counts.get(k, 0) + d["count"]
        check_eq(counts, {("mallory", "not_authorized"): 2,
                          ("mallory-3", "not_authorized"): 1},
                 "B: the refusals counted")
        for p in got:
            if p.topic == "$events/client/connected":
                j = json.loads(p.payload)
                check(j.get("client_id") != "fake",
                      "B: no forged connected: %r" % j)
        check_eq(drain(r, 0.5), [], "B: reader gets no event either")
        for x in (be, m, m3, r):
            x.disconnect()

    # C
    with Broker(conf=["acl_file %s" % acl], name="restarted") as b:
        be = raw.Client(b.port, version=V5)
        be.connect("backend", clean=False, username="backend",
                   properties={"session_expiry_interval": 600})
        check_eq(be.subscribe("$events/#", qos=1).codes, [1],
                 "C: granted under the ACL")
        be.disconnect()
        b.conf = [c for c in b.conf if not c.startswith("acl_file ")]
        b.restart()
        be = raw.Client(b.port, version=V5)
        ack = be.connect("backend", clean=False, username="backend",
                         properties={"session_expiry_interval": 600})
        check_eq(ack.session_present, 1, "C: its session, resumed")
        c = raw.Client(b.port, version=V5)
        c.connect("someone")
        c.disconnect()
        check_eq([p.topic for p in drain(be, 1.5)], [],
                 "C: no event without acl_file, even for a subscription "
                 "made before")
        be.disconnect()


main(test)
