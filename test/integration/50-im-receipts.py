#!/usr/bin/env python3
"""Delivery receipts on one node (no node_name).

A. A v5 publisher sends to bob at QoS 1 with the user property
   receipt-to = im/u/alice/receipts and Correlation Data: bob gets the
   message with receipt-to (passed on); no receipt before bob's PUBACK;
   after it, one receipt at QoS 1 on that topic with the publisher's
   Correlation Data, Content Type application/json and the JSON
   {"status":"delivered","message_id":<22 base64url digits, the lone
   node's origin first>,"to":"bob","topic":"im/u/bob","at":<now, ms>},
   and no receipt-to of its own (acknowledging it asks for nothing). A
   PUBACK again for the same id sends nothing.
B. QoS 2 to a 3.1.1 recipient: the receipt comes at its PUBREC (before
   PUBCOMP); the recipient goes away before PUBCOMP, comes back, gets
   the PUBREL again, sends PUBREC again and PUBCOMP: no second receipt.
C. No receipt at QoS 0 (published at QoS 0, or delivered at QoS 0 by
   the subscription), nor for bad receipt-to values (a wildcard, $SYS/,
   empty, over max_topic_length); a good one after them arrives alone.
D. An offline persistent recipient: its message is stored with
   receipt-to, its Correlation Data and its id; the node restarts; the
   recipient comes back and acknowledges: the receipt comes, with that
   Correlation Data and an id (a message read back without one would
   give null).
E. delivery_receipts false: receipt-to is delivered as any property and
   the PUBACK publishes nothing."""
import json
import os
import re
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402
from v5util import recv_or_none  # noqa: E402

RT = "im/u/alice/receipts"
LONE_ORIGIN = "MvynOSEIiMl"    # base64url of FNV-1a("")
MID = re.compile(r"^[A-Za-z0-9_-]{22}$")


def receipt(c, what, timeout=5.0):
    """The next PUBLISH on c, checked to be a receipt; its JSON."""
    p = c.expect(raw.PUBLISH, timeout=timeout, what=what)
    c.ack(p)
    check_eq((p.topic, p.qos), (RT, 1), "%s: topic and QoS" % what)
    check_eq(p.props.get("content_type"), "application/json",
             "%s: content type" % what)
    check_eq(p.props.get("payload_format_indicator"), 1,
             "%s: payload format" % what)
    check("user_property" not in p.props,
          "%s: no user properties (no receipt-to): %r" % (what, p.props))
    j = json.loads(p.payload.decode())
    check_eq(sorted(j), ["at", "message_id", "status", "to", "topic"],
             "%s: fields" % what)
    check_eq(j["status"], "delivered", "%s: status" % what)
    check(abs(j["at"] - time.time() * 1000) < 60000,
          "%s: at is now in ms: %r" % (what, j["at"]))
    check(MID.match(j["message_id"] or ""), "%s: message_id %r" %
          (what, j["message_id"]))
    check_eq(j["message_id"][:11], LONE_ORIGIN, "%s: origin" % what)
    return p, j


def quiet(c, what, t=0.5):
    p = recv_or_none(c, t)
    check(p is None, "%s: nothing more, got %r" % (what, p))


def part_a(b, alice):
    bob = raw.Client(b.port, version=V5)
    bob.connect("bob")
    bob.subscribe("im/u/bob", qos=1)
    alice.publish("im/u/bob", b"hello bob", qos=1, mid=1, properties=[
        ("correlation_data", b"\x00c-1"),
        ("user_property", [("x", "1"), ("receipt-to", RT)])])
    m = bob.recv_publish(timeout=5.0, ack=False)
    check_eq(m.props.get("user_property"), [("x", "1"), ("receipt-to", RT)],
             "A: receipt-to is passed on to the recipient")
    check("tern-mid" not in dict(m.props.get("user_property")),
          "A: no tern-mid without message_id_property")
    quiet(alice, "A: no receipt before the PUBACK")
    bob.send(raw.puback(m.mid, version=V5))
    p, j = receipt(alice, "A: receipt")
    check_eq(p.props.get("correlation_data"), b"\x00c-1",
             "A: the publisher's correlation data")
    check_eq((j["to"], j["topic"]), ("bob", "im/u/bob"), "A: to, topic")
    bob.send(raw.puback(m.mid, version=V5))
    quiet(alice, "A: a PUBACK again sends nothing")
    bob.disconnect()


def part_b(b, alice):
    old = raw.Client(b.port, version=V311)
    old.connect("bob311", clean=False)
    old.subscribe("im/u/bob311", qos=2)
    alice.publish("im/u/bob311", b"q2", qos=2, mid=2, properties=[
        ("user_property", [("receipt-to", RT)])])
    m = old.recv_publish(timeout=5.0, ack=False)
    check_eq(m.qos, 2, "B: QoS 2 delivery")
    quiet(alice, "B: no receipt before the PUBREC")
    old.send(raw.pubrec(m.mid))
    old.expect_ack(raw.PUBREL, m.mid)
    p, j = receipt(alice, "B: receipt at PUBREC")
    check_eq(("correlation_data" in p.props, j["to"], j["topic"]),
             (False, "bob311", "im/u/bob311"), "B: receipt fields")
    old.abort()       # no PUBCOMP
    old = raw.Client(b.port, version=V311)
    old.connect("bob311", clean=False)
    old.expect_ack(raw.PUBREL, m.mid)
    old.send(raw.pubrec(m.mid))     # PUBREC again: PUBREL again
    old.expect_ack(raw.PUBREL, m.mid)
    old.send(raw.pubcomp(m.mid))
    quiet(alice, "B: a PUBREC again after a reconnect: no second receipt")
    old.ping()
    old.disconnect()
    c = raw.Client(b.port, version=V311)
    c.connect("bob311", clean=True)
    c.disconnect()


def part_c(b, alice):
    carol = raw.Client(b.port, version=V5)
    carol.connect("carol")
    carol.subscribe("im/u/carol", qos=1)
    low = raw.Client(b.port, version=V5)
    low.connect("carol0")
    low.subscribe("im/u/carol0", qos=0)
    alice.publish("im/u/carol", b"q0", qos=0, properties=[
        ("user_property", [("receipt-to", RT)])])
    check_eq(carol.recv_publish(timeout=5.0).payload, b"q0", "C: q0")
    alice.publish("im/u/carol0", b"q1 to q0", qos=1, mid=3, properties=[
        ("user_property", [("receipt-to", RT)])])
    check_eq(low.recv_publish(timeout=5.0).qos, 0, "C: delivered at QoS 0")
    bad = ["im/u/+/receipts", "im/#", "$SYS/x", "", "im/" + "r" * 80]
    for i, t in enumerate(bad):
        alice.publish("im/u/carol", b"bad-%d" % i, qos=1, mid=10 + i,
                      properties=[("user_property", [("receipt-to", t)])])
        check_eq(carol.recv_publish(timeout=5.0).payload, b"bad-%d" % i,
                 "C: delivered with receipt-to %r" % t)
    alice.publish("im/u/carol", b"good", qos=1, mid=20, properties=[
        ("user_property", [("receipt-to", RT)])])
    check_eq(carol.recv_publish(timeout=5.0).payload, b"good", "C: good")
    p, j = receipt(alice, "C: the good one's receipt, first")
    check_eq(j["to"], "carol", "C: receipt for carol")
    quiet(alice, "C: none for QoS 0 nor for the bad values")
    carol.disconnect()
    low.disconnect()


def part_d(b):
    dave = raw.Client(b.port, version=V5)
    dave.connect("dave", clean=False,
                 properties={"session_expiry_interval": 3600})
    dave.subscribe("im/u/dave", qos=1)
    dave.disconnect()
    a = raw.Client(b.port, version=V5)
    a.connect("alice-d")
    a.publish("im/u/dave", b"stored", qos=1, mid=1, properties=[
        ("correlation_data", b"d-1"),
        ("user_property", [("receipt-to", RT)])])
    a.disconnect()
    b.restart()
    alice = raw.Client(b.port, version=V5)
    alice.connect("alice-d2")
    alice.subscribe(RT, qos=1)
    dave = raw.Client(b.port, version=V5)
    dave.connect("dave", clean=False,
                 properties={"session_expiry_interval": 0})
    m = dave.recv_publish(timeout=5.0)
    check_eq((m.payload, dict(m.props["user_property"])["receipt-to"]),
             (b"stored", RT), "D: the stored message, with receipt-to")
    p, j = receipt(alice, "D: receipt after a restart")
    check_eq((p.props.get("correlation_data"), j["to"]), (b"d-1", "dave"),
             "D: correlation data and recipient survived the restart")
    quiet(alice, "D: one receipt")
    dave.disconnect()
    alice.disconnect()


def test():
    tern_only("delivery receipts")
    with Broker(conf=["max_topic_length 64", "log_level debug"]) as b:
        alice = raw.Client(b.port, version=V5)
        alice.connect("alice")
        alice.subscribe(RT, qos=1)
        part_a(b, alice)
        part_b(b, alice)
        part_c(b, alice)
        b.wait_log("receipt-to is not a topic it may take")
        alice.disconnect()
        part_d(b)
    part_e()


def part_e():
    with Broker(conf=["delivery_receipts false"], name="off") as b:
        alice = raw.Client(b.port, version=V5)
        alice.connect("alice")
        alice.subscribe(RT, qos=1)
        bob = raw.Client(b.port, version=V5)
        bob.connect("bob")
        bob.subscribe("im/u/bob", qos=1)
        alice.publish("im/u/bob", b"no receipt", qos=1, mid=1, properties=[
            ("user_property", [("receipt-to", RT)])])
        m = bob.recv_publish(timeout=5.0, ack=False)
        check_eq(m.props.get("user_property"), [("receipt-to", RT)],
                 "E: receipt-to is passed on as any property")
        bob.send(raw.puback(m.mid, version=V5))
        quiet(alice, "E: delivery_receipts false: no receipt", 1.0)
        bob.disconnect()
        alice.disconnect()


main(test)
