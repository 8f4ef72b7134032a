#!/usr/bin/env python3
"""message_id_property on one node (no node_name): every message
delivered to a v5 client carries the user property tern-mid, last, 22
base64url digits: the lone node's origin (the hash of the empty name,
MvynOSEIiMl), then a sequence that grows.

- A client's own tern-mid (on a message or a will) is removed; its other
  user properties stay, in order.
- Two subscribers get the same id for one message; the next message has
  a greater sequence.
- A message resent after a reconnect (DUP), and one read back from the
  store after a restart, keep their id.
- A receipt names the id the recipient saw.
- A 3.1.1 subscriber gets the message without properties.
- Without the key (the default) no tern-mid is added."""
import json
import os
import re
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
LONE_ORIGIN = "MvynOSEIiMl"
MID = re.compile(r"^[A-Za-z0-9_-]{22}$")
EXPIRY = {"session_expiry_interval": 3600}


def unb64(s):
    v = 0
    for ch in s:
        v = v * 64 + B64.index(ch)
    return v


def mid_of(p, others=(), what="message"):
    """p's tern-mid, checked to be the last user property, after
    others."""
    up = p.props.get("user_property", [])
    check(len(up) >= 1 and up[-1][0] == "tern-mid",
          "%s: tern-mid last: %r" % (what, up))
    check_eq(up[:-1], list(others), "%s: the other user properties" % what)
    mid = up[-1][1]
    check(MID.match(mid), "%s: tern-mid %r" % (what, mid))
    check_eq(mid[:11], LONE_ORIGIN, "%s: origin of a node alone" % what)
    return mid


def with_key():
    with Broker(conf=["message_id_property true"]) as b:
        s = raw.Client(b.port, version=V5)
        s.connect("mid-s", clean=False, properties=EXPIRY)
        s.subscribe("mid/#", qos=1)
        w = raw.Client(b.port, version=V5)
        w.connect("mid-w")
        w.subscribe("mid/#", qos=1)
        o = raw.Client(b.port, version=V311)
        o.connect("mid-o")
        o.subscribe("mid/#", qos=1)
        pub = raw.Client(b.port, version=V5)
        pub.connect("mid-pub")
        ups = [("a", "1"), ("tern-mid", "AAAAAAAAAAAAAAAAAAAAAA"), ("b", "")]
        pub.publish("mid/1", b"one", qos=1, mid=1,
                    properties=[("user_property", ups)])
        p1 = s.recv_publish(timeout=5.0)
        m1 = mid_of(p1, [("a", "1"), ("b", "")], "first")
        check_eq(mid_of(w.recv_publish(timeout=5.0), [("a", "1"), ("b", "")],
                        "first, second subscriber"), m1,
                 "one message, one id for every subscriber")
        q = o.recv_publish(timeout=5.0)
        check_eq((q.payload, q.props), (b"one", {}),
                 "3.1.1: the message, no properties")
        pub.publish("mid/2", b"two", qos=1, mid=2)
        m2 = mid_of(s.recv_publish(timeout=5.0), (), "second")
        w.recv_publish(timeout=5.0)
        o.recv_publish(timeout=5.0)
        check(m2 != m1 and unb64(m2[11:]) > unb64(m1[11:]),
              "the sequence grows: %s then %s" % (m1, m2))

        # resent after a reconnect: the same id, DUP
        pub.publish("mid/3", b"three", qos=1, mid=3)
        p3 = s.recv_publish(timeout=5.0, ack=False)
        m3 = mid_of(p3, (), "third")
        w.recv_publish(timeout=5.0)
        o.recv_publish(timeout=5.0)
        s.abort()
        s = raw.Client(b.port, version=V5)
        s.connect("mid-s", clean=False, properties=EXPIRY)
        again = s.recv_publish(timeout=5.0)
        check_eq((again.payload, again.dup, mid_of(again, (), "resent")),
                 (b"three", 1, m3), "resent with DUP and the same id")

        # a receipt names the id the recipient saw
        pub.subscribe("mid-r/pub", qos=1, mid=9)
        pub.publish("mid/4", b"four", qos=1, mid=4, properties=[
            ("user_property", [("receipt-to", "mid-r/pub")])])
        m4 = mid_of(s.recv_publish(timeout=5.0),
                    [("receipt-to", "mid-r/pub")], "fourth")
        r = pub.expect(raw.PUBLISH, timeout=5.0, what="receipt")
        pub.ack(r)
        check_eq(json.loads(r.payload)["message_id"], m4,
                 "the receipt names the id the recipient saw")
        check(mid_of(r, (), "the receipt") != m4, "the receipt's own id")
        for c in (w, o):
            c.recv_publish(timeout=5.0)

        # a will's own tern-mid goes too
        wl = raw.Client(b.port, version=V5)
        wl.connect("mid-will", will=("mid/will", b"gone", 1, False),
                   will_properties={"user_property": [
                       ("tern-mid", "forged"), ("k", "v")]})
        wl.abort()
        check_eq(mid_of(s.recv_publish(timeout=5.0), [("k", "v")],
                        "will")[:11], LONE_ORIGIN, "will id")
        w.recv_publish(timeout=5.0)

        # stored while offline, read back after a restart: the same id
        s.disconnect()
        pub.publish("mid/5", b"five", qos=1, mid=5)
        m5 = mid_of(w.recv_publish(timeout=5.0), (), "fifth (online)")
        for c in (w, o, pub):
            c.disconnect()
        b.restart()
        s = raw.Client(b.port, version=V5)
        s.connect("mid-s", clean=False, properties={
            "session_expiry_interval": 0})
        p5 = s.recv_publish(timeout=5.0)
        check_eq((p5.payload, mid_of(p5, (), "fifth (after the restart)")),
                 (b"five", m5), "the same id after a restart")
        s.disconnect()


def without_key():
    with Broker() as b:
        s = raw.Client(b.port, version=V5)
        s.connect("nomid-s")
        s.subscribe("nomid/#", qos=1)
        pub = raw.Client(b.port, version=V5)
        pub.connect("nomid-pub")
        pub.publish("nomid/1", b"x", qos=1, mid=1, properties=[
            ("user_property", [("tern-mid", "mine")])])
        p = s.recv_publish(timeout=5.0)
        check_eq(p.props.get("user_property"), [("tern-mid", "mine")],
                 "default: no tern-mid added, the client's own kept")
        s.disconnect()
        pub.disconnect()


def test():
    tern_only("message_id_property")
    with_key()
    without_key()


main(test)
