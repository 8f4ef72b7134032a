#!/usr/bin/env python3
"""Delivery receipts under acl_file: the receipt is published as if by
the recipient, so the recipient needs write on the receipt topic.

Everyone reads their own tree (pattern read im/u/%u/#) and may write to
inboxes and receipt topics (pattern write im/u/+ and im/u/+/receipts);
eve is denied the receipt topics. alice (subscribed to im/u/alice/#)
sends bob a message asking for a receipt on im/u/alice/receipts: bob's
PUBACK brings it. The same to eve: eve's PUBACK brings nothing. One to
bob asking for a receipt on im/u/alice/other (bob may not write there):
nothing. Each refusal is a debug line, not a notice of a denied write
(bob and eve did not publish anything themselves)."""
import json
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402
from authutil import acl_file, password_file  # noqa: E402
from v5util import recv_or_none  # noqa: E402

ACL = """pattern read im/u/%u/#
pattern write im/u/+
pattern write im/u/+/receipts
user eve
topic deny im/u/+/receipts
"""
RT = "im/u/alice/receipts"


def test():
    tern_only("delivery receipts")
    pw = password_file({"alice": "a", "bob": "b", "eve": "e"})
    acl = acl_file(ACL)
    with Broker(conf=["password_file %s" % pw, "acl_file %s" % acl,
                      "log_level debug"]) as b:
        alice = raw.Client(b.port, version=V5)
        alice.connect("alice", username="alice", password=b"a")
        alice.subscribe("im/u/alice/#", qos=1)
        bob = raw.Client(b.port, version=V5)
        bob.connect("bob", username="bob", password=b"b")
        bob.subscribe("im/u/bob", qos=1)
        eve = raw.Client(b.port, version=V5)
        eve.connect("eve", username="eve", password=b"e")
        eve.subscribe("im/u/eve", qos=1)

        def send(to, payload, mid, rt):
            ack = alice.publish("im/u/%s" % to, payload, qos=1, mid=mid,
                                properties=[("user_property",
                                             [("receipt-to", rt)])])
            check_eq(ack.reason, 0, "alice may write to %s" % to)

        send("eve", b"to eve", 1, RT)
        check_eq(eve.recv_publish(timeout=5.0).payload, b"to eve", "eve")
        send("bob", b"elsewhere", 2, "im/u/alice/other")
        check_eq(bob.recv_publish(timeout=5.0).payload, b"elsewhere", "bob")
        b.wait_log("receipt for im/u/eve from eve not sent: it may not "
                   "write on im/u/alice/receipts")
        b.wait_log("receipt for im/u/bob from bob not sent: it may not "
                   "write on im/u/alice/other")
        send("bob", b"to bob", 3, RT)
        check_eq(bob.recv_publish(timeout=5.0).payload, b"to bob", "bob")
        r = alice.expect(raw.PUBLISH, timeout=5.0, what="bob's receipt")
        alice.ack(r)
        check_eq((r.topic, json.loads(r.payload)["to"]), (RT, "bob"),
                 "the receipt bob may send, first")
        p = recv_or_none(alice, 0.5)
        check(p is None, "no receipt from eve nor on im/u/alice/other: "
              "%r" % p)
        check("ACL: write denied" not in b.log(),
              "no notice of a denied write for a receipt")
        for c in (alice, bob, eve):
            c.disconnect()


main(test)
