#!/usr/bin/env python3
"""Durability with the subscribers online: persistent 3.1.1 and v5
subscribers are in the middle of consuming 300 acknowledged messages (their
acks flowing, PUBRELs in flight) when ternd is killed (kill -9). After the
restart they resume and get the rest: at QoS 2 every message exactly once
for a conforming receiver (a PUBLISH resent after a PUBREL was processed
would be a second delivery), in order; at QoS 1 none lost, in order of
first delivery, a redelivery only of a message sent before the kill.
With store_sync normal and full."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from storeutil import *  # noqa: E402,F401,F403

N = 300
CUT = 100


def first_occurrences(pl):
    seen, out = set(), []
    for p in pl:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def test():
    store_only()
    for sync in ("normal", "full"):
        scenario(sync)


def scenario(sync):
    with Broker(conf=["store_sync %s" % sync], name=sync) as b:
        log("store_sync %s" % sync)
        subs = []
        for v in (V311, V5):
            for qos in (1, 2):
                r = Receiver(b.port, "online-%d-q%d" % (v, qos), version=v)
                r.connect(clean=False, expect_present=0)
                r.subscribe([("online/t", qos)])
                r.qos = qos
                subs.append(r)
        pub = Publisher(b.port, "online-pub", version=V5)
        want = pub.publish_acked("online/t", payloads("o", N, size=100),
                                 qos=2)
        check_eq(len(want), N, "acknowledged")
        for _ in range(CUT):           # all four consuming at the kill
            for r in subs:
                r.receive_n(1)
        before = dict((r.client_id, len(r.delivered)) for r in subs)
        crash(b)
        for r in subs:
            r.connect(clean=False, expect_present=1)
        for r in subs:
            r.run_until(lambda r: want[-1] in r.payloads() and
                        not r.awaiting_rel, 10.0, "all messages")
        marker = Publisher(b.port, "online-marker", version=V5)
        marker.publish_one("online/t", b"marker", qos=2)
        marker.close()
        for r in subs:
            r.wait_payload(b"marker")
            got = r.payloads()
            log("%s: %d delivered before the kill, %d in all, %d "
                "duplicates recognised by packet id"
                % (r.client_id, before[r.client_id], len(got),
                   len(r.dups)))
            if r.qos == 2:
                check_in_order_once(got, want + [b"marker"],
                                    "%s: QoS 2 deliveries" % r.client_id)
            else:
                check_in_order_once(first_occurrences(got),
                                    want + [b"marker"],
                                    "%s: QoS 1 deliveries (first "
                                    "occurrences)" % r.client_id)
                again = [p for i, p in enumerate(got) if p in got[:i]]
                check(all(want.index(p) < before[r.client_id]
                          for p in again),
                      "%s: only messages sent before the kill come again: "
                      "%s" % (r.client_id, summary(again)))
            r.expect_quiet(0.2)
            r.end_session()


main(test)
