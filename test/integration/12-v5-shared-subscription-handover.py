#!/usr/bin/env python3
"""MQTT 5 shared subscription, a member leaves: member A (persistent
session, Receive Maximum 1, never acknowledges) and member B share
$share/g/sho/t. When A disconnects, the messages sent to A and not
acknowledged, and those queued for it, go to B (4.8.2: "If the Server
... loses connection ... the Server MAY send the message to another
Client"; ternd's contract does). B gets all N messages in the end,
each once, as far as it is concerned. (tern-only: mosquitto 2.0.11
keeps A's messages in A's session.)"""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403

N = 10
FILT = "$share/g/sho/t"


def test():
    tern_only("hand-over of a leaving member's messages")
    with Broker() as b:
        a = raw.Client(b.port, version=V5)
        a.connect("sho-a", properties={"receive_maximum": 1,
                                       "session_expiry_interval": 300})
        a.subscribe(FILT, qos=1)
        bb = raw.Client(b.port, version=V5)
        bb.connect("sho-b")
        bb.subscribe(FILT, qos=1)
        p = raw.Client(b.port, version=V5)
        p.connect("sho-pub")
        want = [b"%d" % i for i in range(N)]
        for i in range(N):
            p.publish("sho/t", want[i], qos=1, mid=i + 1)
        # A holds one unacknowledged message (Receive Maximum 1)
        held = publishes(a, 1, what="member A")[0]
        check(recv_or_none(a, 0.3) is None, "A: window of 1")
        before = [x.payload for x in drain_publishes(bb, 0.3)]
        log("A holds %r; B got %d before A left" % (held.payload,
                                                    len(before)))
        check(held.payload not in before, "A's message not also at B yet")
        a.abort()
        after = [x.payload for x in
                 drain_publishes(bb, 0.3, expect=N - len(before))]
        log("B got %d after A left" % len(after))
        check(held.payload in after, "A's unacknowledged message handed "
              "over to B")
        check_eq(sorted(before + after, key=int), want,
                 "B has every message once")
        # A's session is still there but has nothing left to deliver
        a = raw.Client(b.port, version=V5)
        ack = a.connect("sho-a", clean=False,
                        properties={"session_expiry_interval": 0})
        check_eq(ack.session_present, 1, "A's session kept")
        # (a redelivery of the handed-over message to A is tolerated)
        got = drain_publishes(a, 0.3)
        log("A got %d on resuming" % len(got))
        for c in (a, bb, p):
            c.disconnect()


main(test)
