#!/usr/bin/env python3
"""$events/message/dropped does not flood, and its counting is bounded
(max_queued_messages 1, queue_qos0_messages true, backend reads
$events/message/dropped at QoS 0).

A. sink's persistent session is offline and 10,001 QoS 0 messages come
   for it at once: 10,000 are dropped, and backend gets them counted in
   a handful of events (at most 10, not thousands), client_id sink,
   reason queue_full, the counts adding up to 10,000.
B. 1,100 offline persistent sessions drop one message each, in one
   routing: at most 1,024 (client id, reason) pairs are counted per
   window; the rest come in one event with client_id null, and the
   counts add up to 1,100."""
import json
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402
from authutil import acl_file  # noqa: E402
from v5util import recv_or_none  # noqa: E402

ACL = """pattern readwrite flood/#
user backend
topic read $events/#
"""
PERSIST = {"session_expiry_interval": 600}
FLOOD = 10001
SESSIONS = 1100


def drops_until(be, total, timeout, what):
    """Dropped events until their counts reach total (or timeout)."""
    got, n = [], 0
    deadline = time.monotonic() + timeout
    while n < total and time.monotonic() < deadline:
        p = recv_or_none(be, max(0.1, deadline - time.monotonic()))
        if p is None:
            break
        check_eq(p.topic, "$events/message/dropped", "%s: topic" % what)
        j = json.loads(p.payload.decode())
        got.append(j)
        n += j["count"]
    check_eq(n, total, "%s: the counts add up (%d events)" %
             (what, len(got)))
    return got


def offline_session(port, cid, flt):
    c = raw.Client(port, version=V5)
    c.send(raw.connect(cid, version=V5, clean=False, properties=PERSIST) +
           raw.subscribe(1, [(flt, 0)], version=V5))
    c.expect(raw.CONNACK, what=cid)
    c.expect(raw.SUBACK, what=cid)
    c.disconnect()


def test():
    tern_only("$events/")
    acl = acl_file(ACL)
    conf = ["acl_file %s" % acl, "max_queued_messages 1",
            "queue_qos0_messages true"]
    with Broker(conf=conf) as b:
        be = raw.Client(b.port, version=V5)
        be.connect("backend", username="backend")
        be.subscribe("$events/message/dropped", qos=0)

        # A
        offline_session(b.port, "sink", "flood/sink")
        pub = raw.Client(b.port, version=V5)
        pub.connect("publisher")
        pub.send(b"".join(raw.publish("flood/sink", b"m%d" % i,
                                      version=V5) for i in range(FLOOD)))
        pub.ping(timeout=30.0)
        got = drops_until(be, FLOOD - 1, 20.0, "A")
        log("A: %d drops in %d events" % (FLOOD - 1, len(got)))
        check(len(got) <= 10, "A: a handful of events, got %d" % len(got))
        check_eq({(j["client_id"], j["reason"]) for j in got},
                 {("sink", "queue_full")}, "A: sink's queue full")

        # B
        for i in range(SESSIONS):
            offline_session(b.port, "s%04d" % i, "flood/all")
        pub.publish("flood/all", b"first")  # queued: each holds one now
        pub.publish("flood/all", b"second")  # dropped by every one
        pub.ping(timeout=30.0)
        got = drops_until(be, SESSIONS, 20.0, "B")
        named = [j for j in got if j["client_id"] is not None]
        rest = [j for j in got if j["client_id"] is None]
        log("B: %d named events, the rest %r" % (len(named), rest))
        check(len(named) <= 1024, "B: at most 1024 pairs: %d" % len(named))
        check_eq(len(rest), 1, "B: one event for the rest")
        check_eq((rest[0]["reason"], rest[0]["count"], rest[0]["user"],
                  rest[0]["peer"]),
                 ("queue_full", SESSIONS - len(named), None, None),
                 "B: the rest, counted")
        check(all(j["count"] == 1 for j in named),
              "B: one drop per session")
        pub.disconnect()
        be.disconnect()


main(test)
