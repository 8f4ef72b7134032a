#!/usr/bin/env python3
"""Delivery receipts and message ids on a 3-node cluster
(message_id_property true).

A. alice on n1 sends to bob on n2 (v5, QoS 1) and to carol on n3 (3.1.1,
   QoS 2) with receipt-to and Correlation Data: bob's tern-mid has n1's
   origin; each recipient's ack (PUBACK, PUBREC) brings alice one
   receipt on n1, naming the message's id, the recipient and the topic,
   with the Correlation Data; the receipt's own id has the recipient's
   node as origin (that node sent it).
B. dave (v5, persistent) gets a QoS 1 message on n2 and goes away
   without acknowledging it; he comes back on n3, his session moves
   there, the message comes again (DUP, the same tern-mid), he
   acknowledges on n3: one receipt, sent by n3, naming that id.
C. QoS 2 and a move after PUBREC: erin acknowledges with PUBREC on n2
   (a receipt from n2), goes away before PUBCOMP, comes back on n3: the
   PUBREL again, a PUBREC again, PUBCOMP: no second receipt. frank gets
   a QoS 2 message on n2, goes away before PUBREC, comes back on n1: the
   PUBLISH again (DUP), PUBREC there: one receipt, from n1."""
import json
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402
from cluster import Cluster  # noqa: E402
from v5util import recv_or_none  # noqa: E402

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
RT = "im/u/alice/receipts"
EXPIRY = {"session_expiry_interval": 3600}


def b64(v):
    return "".join(B64[(v >> (6 * i)) & 63] for i in range(10, -1, -1))


def origin(name):
    """A node's origin in text: FNV-1a of its name."""
    h = 0xcbf29ce484222325
    for ch in name.encode():
        h = ((h ^ ch) * 0x100000001b3) & 0xffffffffffffffff
    return b64(h)


def mid_of(p):
    up = dict(p.props.get("user_property", []))
    check("tern-mid" in up, "tern-mid on %r" % p)
    return up["tern-mid"]


def receipt(alice, what, mid, to, topic, sender, corr=None):
    r = alice.expect(raw.PUBLISH, timeout=10.0, what=what)
    alice.ack(r)
    check_eq((r.topic, r.qos, r.props.get("correlation_data")),
             (RT, 1, corr), "%s: topic, QoS, correlation data" % what)
    j = json.loads(r.payload)
    check_eq((j["status"], j["message_id"], j["to"], j["topic"]),
             ("delivered", mid, to, topic), "%s: fields" % what)
    check_eq(mid_of(r)[:11], origin(sender),
             "%s: sent by %s (its id's origin)" % (what, sender))


def quiet(c, what, t=0.7):
    p = recv_or_none(c, t)
    check(p is None, "%s: nothing more, got %r" % (what, p))


def ask(topic):
    return [("user_property", [("receipt-to", RT)])]


def part_a(cl, alice):
    bob = raw.Client(cl[1].port, version=V5)
    bob.connect("bob")
    bob.subscribe("im/u/bob", qos=1)
    carol = raw.Client(cl[2].port, version=V311)
    carol.connect("carol")
    carol.subscribe("im/u/carol", qos=2)
    alice.publish("im/u/bob", b"hi bob", qos=1, mid=1, properties=[
        ("correlation_data", b"a-1")] + ask(RT))
    m = bob.recv_publish(timeout=10.0, ack=False)
    mid = mid_of(m)
    check_eq(mid[:11], origin("n1"), "A: the id's origin is n1")
    quiet(alice, "A: no receipt before bob's PUBACK", 0.3)
    bob.send(raw.puback(m.mid, version=V5))
    receipt(alice, "A: bob's receipt", mid, "bob", "im/u/bob", "n2",
            b"a-1")
    alice.publish("im/u/carol", b"hi carol", qos=2, mid=2,
                  properties=[("correlation_data", b"a-2")] + ask(RT))
    c = carol.recv_publish(timeout=10.0, ack=False)
    carol.send(raw.pubrec(c.mid))
    carol.expect_ack(raw.PUBREL, c.mid)
    carol.send(raw.pubcomp(c.mid))
    r = alice.expect(raw.PUBLISH, timeout=10.0, what="A: carol's receipt")
    alice.ack(r)
    j = json.loads(r.payload)
    check_eq((j["to"], j["topic"], j["message_id"][:11],
              r.props.get("correlation_data"), mid_of(r)[:11]),
             ("carol", "im/u/carol", origin("n1"), b"a-2", origin("n3")),
             "A: carol's (3.1.1, QoS 2) receipt, sent by n3")
    quiet(alice, "A: one receipt each")
    bob.disconnect()
    carol.disconnect()


def part_b(cl, alice):
    dave = raw.Client(cl[1].port, version=V5)
    dave.connect("dave", clean=False, properties=EXPIRY)
    dave.subscribe("im/u/dave", qos=1)
    alice.publish("im/u/dave", b"hi dave", qos=1, mid=3, properties=[
        ("correlation_data", b"a-3")] + ask(RT))
    m = dave.recv_publish(timeout=10.0, ack=False)
    mid = mid_of(m)
    dave.abort()
    quiet(alice, "B: no receipt while dave has not acknowledged", 0.3)
    dave = raw.Client(cl[2].port, version=V5)
    p = dave.connect("dave", clean=False, properties=EXPIRY)
    check_eq(p.session_present, 1, "B: dave's session moved to n3")
    again = dave.recv_publish(timeout=10.0, ack=False)
    check_eq((again.payload, again.dup, mid_of(again)),
             (b"hi dave", 1, mid), "B: the message again on n3, same id")
    dave.send(raw.puback(again.mid, version=V5))
    receipt(alice, "B: dave's receipt after the move", mid, "dave",
            "im/u/dave", "n3", b"a-3")
    quiet(alice, "B: one receipt")
    dave.disconnect()


def part_c(cl, alice):
    erin = raw.Client(cl[1].port, version=V5)
    erin.connect("erin", clean=False, properties=EXPIRY)
    erin.subscribe("im/u/erin", qos=2)
    frank = raw.Client(cl[1].port, version=V5)
    frank.connect("frank", clean=False, properties=EXPIRY)
    frank.subscribe("im/u/frank", qos=2)

    alice.publish("im/u/erin", b"hi erin", qos=2, mid=4, properties=ask(RT))
    m = erin.recv_publish(timeout=10.0, ack=False)
    mid = mid_of(m)
    erin.send(raw.pubrec(m.mid, version=V5))
    erin.expect_ack(raw.PUBREL, m.mid)
    receipt(alice, "C: erin's receipt at PUBREC", mid, "erin", "im/u/erin",
            "n2")
    erin.abort()        # before PUBCOMP
    erin = raw.Client(cl[2].port, version=V5)
    erin.connect("erin", clean=False, properties=EXPIRY)
    erin.expect_ack(raw.PUBREL, m.mid, timeout=10.0)
    erin.send(raw.pubrec(m.mid, version=V5))    # again
    erin.expect_ack(raw.PUBREL, m.mid, timeout=10.0)
    erin.send(raw.pubcomp(m.mid, version=V5))
    erin.ping()
    quiet(alice, "C: a PUBREC again on n3 after the move: no receipt")

    alice.publish("im/u/frank", b"hi frank", qos=2, mid=5,
                  properties=ask(RT))
    f = frank.recv_publish(timeout=10.0, ack=False)
    fmid = mid_of(f)
    frank.abort()       # before PUBREC
    frank = raw.Client(cl[0].port, version=V5)
    frank.connect("frank", clean=False, properties=EXPIRY)
    again = frank.recv_publish(timeout=10.0, ack=False)
    check_eq((again.payload, again.dup, mid_of(again)),
             (b"hi frank", 1, fmid), "C: frank's message again on n1")
    frank.send(raw.pubrec(again.mid, version=V5))
    frank.expect_ack(raw.PUBREL, again.mid)
    frank.send(raw.pubcomp(again.mid, version=V5))
    receipt(alice, "C: frank's receipt from n1", fmid, "frank",
            "im/u/frank", "n1")
    quiet(alice, "C: one receipt")
    erin.disconnect()
    frank.disconnect()


def test():
    with Cluster(3, conf=["message_id_property true"]) as cl:
        alice = raw.Client(cl[0].port, version=V5)
        alice.connect("alice")
        alice.subscribe(RT, qos=1)
        part_a(cl, alice)
        part_b(cl, alice)
        part_c(cl, alice)
        alice.disconnect()


main(test)
