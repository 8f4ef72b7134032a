#!/usr/bin/env python3
"""Cluster: retained messages are held by every node. A retained message
set on n1 is delivered on subscribe at n2 and n3 (and n1), with the retain
flag; replaced on n3, the new one is delivered everywhere; cleared with an
empty retained message on n2, it is gone on every node while another
retained message stays.

Synchronisation without sleeps: messages forwarded from one node to
another travel in order on one link, so once a QoS 1 "sync" message
published after the retained one has reached a subscriber on each other
node, the retained one has been applied there. What a subscription gets
on subscribe is read up to a non-retained marker published right after
the SUBACK on the same node."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, main, pub  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import Cluster  # noqa: E402
from storeutil import Receiver  # noqa: E402

TOPIC = "ret/x"
KEEP = "ret/keep"
_n = [0]


def synced(cl, syncers, origin):
    """Publish a QoS 1 sync message on node origin; wait until every
    node's sync subscriber (the other nodes' matter) has it."""
    _n[0] += 1
    payload = "sync-%d" % _n[0]
    pub(cl[origin].port, "retsync", payload, qos=1)
    for r in syncers:
        r.wait_payload(payload.encode(), timeout=15.0)


def retained_on_subscribe(port, tag):
    """Subscribe a fresh client to ret/# on the node of port; return
    {topic: (payload, retain flag)} of what it gets before a marker
    published right after the SUBACK on the same node."""
    _n[0] += 1
    r = Receiver(port, "ret-check-%s-%d" % (tag, _n[0]), version=raw.V5)
    r.connect(clean=True)
    r.subscribe([("ret/#", 1)])
    marker = b"marker-%d" % _n[0]
    pub(port, "ret/zz-marker", marker.decode(), qos=1)
    r.receive_until_payload(marker, timeout=10.0)
    out = {}
    for (topic, payload, qos, mid, dup), p in zip(
            r.delivered, [p for p in r.packets if p.type == raw.PUBLISH]):
        if payload == marker:
            break
        check(topic not in out, "%s: retained %s delivered twice"
              % (tag, topic))
        out[topic] = (payload, p.retain)
    r.disconnect()
    return out


def check_all(cl, want, what):
    for i in range(3):
        got = retained_on_subscribe(cl[i].port, "n%d" % (i + 1))
        check_eq(got, want, "retained messages on subscribe at n%d %s"
                 % (i + 1, what))


def test():
    with Cluster(3) as cl:
        syncers = []
        for i in range(3):
            r = Receiver(cl[i].port, "ret-sync-%d" % (i + 1))
            r.connect(clean=True)
            r.subscribe([("retsync", 1)])
            syncers.append(r)

        # none yet
        check_all(cl, {}, "at start")

        # set on n1 (and another one that stays, on n3)
        pub(cl[0].port, TOPIC, "first", qos=1, retain=True)
        synced(cl, syncers, 0)
        pub(cl[2].port, KEEP, "kept", qos=0, retain=True, version=5)
        synced(cl, syncers, 2)
        check_all(cl, {TOPIC: (b"first", 1), KEEP: (b"kept", 1)},
                  "after it was set on n1")

        # replaced on n3
        pub(cl[2].port, TOPIC, "second", qos=2, retain=True, version=5)
        synced(cl, syncers, 2)
        check_all(cl, {TOPIC: (b"second", 1), KEEP: (b"kept", 1)},
                  "after it was replaced on n3")

        # cleared on n2
        pub(cl[1].port, TOPIC, None, null=True, qos=1, retain=True)
        synced(cl, syncers, 1)
        check_all(cl, {KEEP: (b"kept", 1)}, "after it was cleared on n2")

        for r in syncers:
            r.expect_quiet(0.2)
            r.disconnect()


main(test)
