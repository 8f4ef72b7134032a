#!/usr/bin/env python3
"""$events/ for back-ends on one node, under an ACL that grants the user
backend read on $events/# (and on #, which must not match $events/).

A. alice (v5, persistent, keep alive 30) connects: backend gets
   $events/client/connected at QoS 1, not retained, JSON with Payload
   Format Indicator 1 and Content Type application/json, with the common
   fields (event, node null, client_id, user, peer = alice's address, at
   in ms) and protocol "5", clean_start, keep_alive, session_present,
   session_expiry. A 3.1.1 client's says protocol "3.1.1".
B. alice sends DISCONNECT: disconnected, reason "disconnect", her
   session expiry; she comes back with keep alive 1 and goes silent:
   "timeout" (session_present true on that connect); she comes back and
   her socket drops: "closed".
C. alice connects twice: $events/session/taken_over with the old
   peer, the new one and new_node null, then the old connection's
   disconnected "taken_over", then the new connected.
D. bob's persistent session is offline with max_queued_messages 5, and
   12 QoS 1 messages come for it: one $events/message/dropped, client_id
   bob, reason queue_full, count 7.
E. alice publishes at QoS 1 where the ACL refuses her (0x87): dropped,
   reason not_authorized, count 1, client_id alice.
F. backend's other connection, subscribed to #, got none of these.
G. With "events false", backend's grant and subscription stand and it
   gets nothing: no connect, no close, no drop."""
import json
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402
from authutil import acl_file, RC_NOT_AUTHORIZED  # noqa: E402
from v5util import recv_or_none  # noqa: E402

ACL = """pattern readwrite im/u/%u/#
pattern write im/u/+/inbox
user backend
topic read $events/#
topic read #
"""
PERSIST = {"session_expiry_interval": 300}
COMMON = ["at", "client_id", "event", "node", "peer", "user"]
FIELDS = {
    "connected": COMMON + ["clean_start", "keep_alive", "protocol",
                           "session_expiry", "session_present"],
    "disconnected": COMMON + ["reason", "session_expiry"],
    "taken_over": COMMON + ["new_node", "new_peer"],
    "dropped": COMMON + ["count", "reason"],
}
TOPIC = {"connected": "$events/client/connected",
         "disconnected": "$events/client/disconnected",
         "taken_over": "$events/session/taken_over",
         "dropped": "$events/message/dropped"}


def event(be, kind, what, timeout=5.0):
    """The next event backend gets, which must be a kind; its JSON."""
    p = be.expect(raw.PUBLISH, timeout=timeout, what=what)
    be.ack(p)
    check_eq((p.topic, p.qos, p.retain), (TOPIC[kind], 1, False),
             "%s: topic, QoS, retain" % what)
    check_eq((p.props.get("payload_format_indicator"),
              p.props.get("content_type")), (1, "application/json"),
             "%s: payload format and content type" % what)
    j = json.loads(p.payload.decode())
    check_eq(sorted(j), sorted(FIELDS[kind]), "%s: fields" % what)
    check_eq(j["event"], kind, "%s: event" % what)
    check_eq(j["node"], None, "%s: node (no node_name)" % what)
    check(abs(j["at"] - time.time() * 1000) < 60000,
          "%s: at is now in ms: %r" % (what, j["at"]))
    return j


def addr(c):
    return "%s:%d" % c.sock.getsockname()[:2]


def alice(port, keepalive=30):
    c = raw.Client(port, version=V5)
    c.connect("alice", clean=False, keepalive=keepalive, username="alice",
              properties=PERSIST)
    return c


def test():
    tern_only("$events/")
    acl = acl_file(ACL)
    with Broker(conf=["acl_file %s" % acl, "max_queued_messages 5"]) as b:
        be = raw.Client(b.port, version=V5)
        be.connect("backend-1", username="backend")
        check_eq(be.subscribe("$events/#", qos=1).codes, [1],
                 "backend may subscribe to $events/#")
        every = raw.Client(b.port, version=V5)
        every.connect("backend-2", username="backend")
        event(be, "connected", "backend's own second connection")
        check_eq(every.subscribe("#", qos=0).codes, [0], "# granted")

        # A
        a = alice(b.port)
        j = event(be, "connected", "A: connected")
        check_eq((j["client_id"], j["user"], j["peer"], j["protocol"],
                  j["clean_start"], j["keep_alive"], j["session_present"],
                  j["session_expiry"]),
                 ("alice", "alice", addr(a), "5", False, 30, False, 300),
                 "A: connected values")
        old = raw.Client(b.port, version=V311)
        old.connect("carol", username="carol")
        j = event(be, "connected", "A: 3.1.1 connected")
        check_eq((j["client_id"], j["protocol"], j["clean_start"],
                  j["session_expiry"]), ("carol", "3.1.1", True, 0),
                 "A: 3.1.1 values")

        # B
        a.disconnect()
        j = event(be, "disconnected", "B: DISCONNECT")
        check_eq((j["client_id"], j["user"], j["reason"],
                  j["session_expiry"]), ("alice", "alice", "disconnect", 300),
                 "B: disconnect values")
        a = alice(b.port, keepalive=1)
        j = event(be, "connected", "B: back")
        check_eq((j["session_present"], j["keep_alive"]), (True, 1),
                 "B: session present, keep alive 1")
        j = event(be, "disconnected", "B: silent", timeout=6.0)
        check_eq((j["reason"], j["peer"]), ("timeout", addr(a)),
                 "B: keep alive ran out")
        a.close()
        a = alice(b.port)
        event(be, "connected", "B: back again")
        peer = addr(a)
        a.abort()
        j = event(be, "disconnected", "B: socket dropped")
        check_eq((j["reason"], j["peer"]), ("closed", peer),
                 "B: closed, its peer")

        # C
        a1 = alice(b.port)
        event(be, "connected", "C: first")
        a2 = alice(b.port)
        j = event(be, "taken_over", "C: taken over")
        check_eq((j["client_id"], j["user"], j["peer"], j["new_peer"],
                  j["new_node"]), ("alice", "alice", addr(a1), addr(a2),
                                   None), "C: taken_over values")
        j = event(be, "disconnected", "C: the old one")
        check_eq((j["reason"], j["peer"]), ("taken_over", addr(a1)),
                 "C: the old connection")
        j = event(be, "connected", "C: the new one")
        check_eq((j["peer"], j["session_present"]), (addr(a2), True),
                 "C: the new connection")
        a1.close()

        # D
        bob = raw.Client(b.port, version=V5)
        bob.connect("bob", clean=False, username="bob", properties=PERSIST)
        bob.subscribe("im/u/bob/inbox", qos=1)
        event(be, "connected", "D: bob")
        bob.disconnect()
        event(be, "disconnected", "D: bob left")
        for i in range(12):
            check_eq(old.publish("im/u/bob/inbox", b"m%d" % i, qos=1,
                                 mid=i + 1).type, raw.PUBACK, "D: sent")
        j = event(be, "dropped", "D: queue full", timeout=5.0)
        check_eq((j["client_id"], j["user"], j["peer"], j["reason"],
                  j["count"]), ("bob", "bob", None, "queue_full", 7),
                 "D: one event, the count of drops")

        # E
        ack = a2.publish("im/u/bob/private", b"no", qos=1, mid=7)
        check_eq(ack.reason, RC_NOT_AUTHORIZED, "E: refused")
        j = event(be, "dropped", "E: refused publish")
        check_eq((j["client_id"], j["user"], j["peer"], j["reason"],
                  j["count"]), ("alice", "alice", addr(a2),
                                "not_authorized", 1), "E: values")
        p = recv_or_none(be, 1.5)
        check(p is None, "nothing more for backend: %r" % p)

        # F
        got = []
        for _ in range(100):
            p = recv_or_none(every, 0.5)
            if p is None:
                break
            got.append(p.topic)
        check(not any(t.startswith("$") for t in got),
              "F: # matches no $events/ topic: %r" % got)
        for c in (be, every, a2, old):
            c.disconnect()

    # G
    conf = ["acl_file %s" % acl, "events false"]
    with Broker(conf=conf, name="events-off") as b:
        be = raw.Client(b.port, version=V5)
        be.connect("backend-1", username="backend")
        check_eq(be.subscribe("$events/#", qos=1).codes, [1],
                 "G: still granted")
        a = alice(b.port)
        check_eq(a.publish("im/u/bob/private", b"no", qos=1,
                           mid=1).reason, RC_NOT_AUTHORIZED, "G: refused")
        a.abort()
        p = recv_or_none(be, 2.0)
        check(p is None, "G: events false publishes nothing: %r" % p)
        be.disconnect()


main(test)
