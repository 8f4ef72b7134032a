#!/usr/bin/env python3
"""Presence on one node (presence_topic im/p/%c, presence_debounce 2).

A. A persistent v5 client with a user name connects: a watcher on
   im/p/# gets, at QoS 1, {"status":"online","client_id","user","node":
   null,"at"} with Content Type application/json; a later subscriber
   gets it retained.
B. It sends DISCONNECT: nothing for the first second, then "offline"
   with reason "disconnect", at least the debounce after it left.
C. It comes back (nothing: the offline waited), drops its socket and
   reconnects within the debounce: nothing published for more than the
   debounce. A takeover by a new persistent connection: nothing either.
D. Taken over by a clean connection without session expiry (not
   followed with presence_clients persistent): "offline", "taken_over"
   after the debounce, and that connection itself publishes nothing.
E. Its keep alive runs out: "offline", "timeout"; its socket drops:
   "offline", "closed".
F. presence_clients all with presence_debounce 0: a clean client is
   followed, and its offline comes at once.
G. The node is killed (kill -9) with alice and bob online, and starts
   again: their onlines are still retained; bob connects again, alice
   does not: after the debounce her offline, reason "restart", and none
   for bob."""
import json
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402
from v5util import recv_or_none  # noqa: E402

DEBOUNCE = 2
PERSIST = {"session_expiry_interval": 3600}


def presence(w, cid, status, what, timeout=5.0, reason=None, user=None):
    p = w.expect(raw.PUBLISH, timeout=timeout, what=what)
    w.ack(p)
    check_eq((p.topic, p.qos), ("im/p/" + cid, 1), "%s: topic, QoS" % what)
    check_eq(p.props.get("content_type"), "application/json",
             "%s: content type" % what)
    j = json.loads(p.payload.decode())
    want = ["at", "client_id", "node", "status", "user"]
    if status == "offline":
        want.append("reason")
    check_eq(sorted(j), sorted(want), "%s: fields" % what)
    check_eq((j["status"], j["client_id"], j["user"], j["node"]),
             (status, cid, user, None), "%s: values" % what)
    if reason is not None:
        check_eq(j["reason"], reason, "%s: reason" % what)
    check(abs(j["at"] - time.time() * 1000) < 60000,
          "%s: at is now in ms: %r" % (what, j["at"]))
    return p, j


def quiet(w, what, t):
    p = recv_or_none(w, t)
    check(p is None, "%s: nothing published, got %r" %
          (what, p and (p.topic, p.payload)))


def alice(port, **kw):
    c = raw.Client(port, version=V5)
    kw.setdefault("properties", PERSIST)
    c.connect("alice", clean=False, username="alice-user", **kw)
    return c


def test():
    tern_only("presence_topic")
    conf = ["presence_topic im/p/%c",
            "presence_debounce %d" % DEBOUNCE]
    with Broker(conf=conf) as b:
        w = raw.Client(b.port, version=V5)
        w.connect("watcher")
        w.subscribe("im/p/#", qos=1)

        # A
        a = alice(b.port)
        presence(w, "alice", "online", "A: online", user="alice-user")
        late = raw.Client(b.port, version=V5)
        late.connect("late")
        late.subscribe("im/p/#", qos=1)
        p = late.expect(raw.PUBLISH, timeout=5.0, what="A: retained")
        check(p.retain, "A: the late subscriber gets it retained")
        check_eq(json.loads(p.payload.decode())["status"], "online",
                 "A: retained online")
        late.disconnect()

        # B
        a.disconnect()
        left = time.time()
        quiet(w, "B: within the debounce", 1.0)
        _, j = presence(w, "alice", "offline", "B: offline",
                        reason="disconnect", user="alice-user")
        check(j["at"] / 1000.0 - left >= DEBOUNCE - 0.2,
              "B: offline after the debounce (%.2f s)" %
              (j["at"] / 1000.0 - left))

        # C
        a = alice(b.port)
        presence(w, "alice", "online", "C: online again", user="alice-user")
        for _ in range(3):
            a.abort()
            time.sleep(0.3)
            a = alice(b.port)
        a2 = alice(b.port)  # takes over a
        quiet(w, "C: reconnects and a takeover within the debounce",
              DEBOUNCE + 1.5)

        # D
        clean = raw.Client(b.port, version=V5)
        clean.connect("alice", clean=True, username="alice-user")
        _, j = presence(w, "alice", "offline", "D: taken over",
                        timeout=DEBOUNCE + 3, reason="taken_over",
                        user="alice-user")
        clean.disconnect()
        quiet(w, "D: the clean connection is not followed", DEBOUNCE + 1)
        a.close()
        a2.close()

        # E
        a = alice(b.port, keepalive=1)
        presence(w, "alice", "online", "E: online", user="alice-user")
        presence(w, "alice", "offline", "E: keep alive", reason="timeout",
                 timeout=DEBOUNCE + 5, user="alice-user")
        a.close()
        a = alice(b.port)
        presence(w, "alice", "online", "E: online", user="alice-user")
        a.abort()
        presence(w, "alice", "offline", "E: socket", reason="closed",
                 timeout=DEBOUNCE + 3, user="alice-user")
        w.disconnect()

    # F
    conf = ["presence_topic im/p/%c", "presence_debounce 0",
            "presence_clients all"]
    with Broker(conf=conf) as b:
        w = raw.Client(b.port, version=V5)
        w.connect("watcher2")
        w.subscribe("im/p/eve", qos=1)
        e = raw.Client(b.port, version=V5)
        e.connect("eve", clean=True)
        presence(w, "eve", "online", "F: a clean client followed")
        e.disconnect()
        presence(w, "eve", "offline", "F: at once", timeout=1.0,
                 reason="disconnect")
        w.disconnect()

    # G
    conf = ["presence_topic im/p/%c", "presence_debounce %d" % DEBOUNCE]
    with Broker(conf=conf, name="restarted") as b:
        a = alice(b.port)
        bob = raw.Client(b.port, version=V5)
        bob.connect("bob", clean=False, username="bob-user",
                    properties=PERSIST)
        time.sleep(0.3)  # both onlines committed
        b.restart(graceful=False)
        a.close()
        bob.close()
        w = raw.Client(b.port, version=V5)
        w.connect("watcher3")
        w.subscribe("im/p/#", qos=1)
        seen = {}
        for _ in range(2):
            p = w.expect(raw.PUBLISH, timeout=5.0, what="G: retained")
            w.ack(p)
            seen[p.topic] = json.loads(p.payload.decode())["status"]
        check_eq(seen, {"im/p/alice": "online", "im/p/bob": "online"},
                 "G: the onlines survive kill -9, retained")
        bob = raw.Client(b.port, version=V5)
        bob.connect("bob", clean=False, username="bob-user",
                    properties=PERSIST)
        _, j = presence(w, "alice", "offline", "G: after the restart",
                        timeout=DEBOUNCE + 5, reason="restart",
                        user="alice-user")
        quiet(w, "G: bob came back: no offline", 1.5)
        bob.close()
        w.close()


main(test)
