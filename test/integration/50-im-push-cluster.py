#!/usr/bin/env python3
"""The push webhook in a 3-node cluster: the node that holds the offline
session sends the event.

bob's session is persistent on n2 and offline; alice on n1 sends him a
QoS 1 and a QoS 2 message. The webhook gets their two events from n2
(X-Tern-Node: n2) and from no other node, with "from" null (a message
from another node does not carry its publisher), queued 1 and 2, and the
ids bob then gets on n2 (message_id_property). A message alice sends to
carol, online on n3, fires nothing."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402
from cluster import Cluster  # noqa: E402
from webhook import Webhook  # noqa: E402

EXPIRY = {"session_expiry_interval": 3600}


def mid_of(p):
    return dict(p.props.get("user_property", [])).get("tern-mid")


def test():
    tern_only("push webhook")
    with Webhook() as hook, \
            Cluster(3, conf=["push_webhook %s" % hook.url,
                             "message_id_property true"]) as cl:
        bob = raw.Client(cl[1].port, version=V5)
        bob.connect("bob", clean=False, properties=EXPIRY)
        bob.subscribe("im/u/bob", qos=2)
        bob.disconnect()
        carol = raw.Client(cl[2].port, version=V5)
        carol.connect("carol")
        carol.subscribe("im/u/carol", qos=1)
        alice = raw.Client(cl[0].port, version=V5)
        alice.connect("alice")
        alice.publish("im/u/bob", b"across", qos=1, mid=1)
        alice.publish("im/u/bob", b"across 2", qos=2, mid=2)
        alice.publish("im/u/carol", b"online", qos=1, mid=3)
        check_eq(carol.recv_publish(timeout=10.0).payload, b"online",
                 "carol gets hers")
        ev = hook.wait_events(2, timeout=15.0, what="bob's events")
        hook.quiet(1.5, "no more")
        check_eq(len(hook.events()), 2, "two events in all")
        check_eq(set(r.headers.get("X-Tern-Node") for r in hook.requests),
                 {"n2"}, "sent by n2, the node of bob's session")
        check_eq([(e["client_id"], e["topic"], e["from"], e["qos"],
                   e["size"], e["queued"]) for e in ev],
                 [("bob", "im/u/bob", None, 1, 6, 1),
                  ("bob", "im/u/bob", None, 2, 8, 2)], "the events")
        bob = raw.Client(cl[1].port, version=V5)
        bob.connect("bob", clean=False, properties=EXPIRY)
        mids = [mid_of(bob.recv_publish(timeout=10.0)) for _ in range(2)]
        check_eq([e["message_id"] for e in ev], mids,
                 "the ids bob gets")
        bob.disconnect()
        carol.disconnect()
        alice.disconnect()
        for b in cl.nodes:
            b.check_log_clean()


main(test)
