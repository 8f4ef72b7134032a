#!/usr/bin/env python3
"""Durability: QoS 2 messages acknowledged (PUBREC) while persistent
subscribers (3.1.1 clean session 0, v5 clean start 0 with a session
expiry) are offline survive kill -9 of ternd: after the restart each
subscriber resumes with session present 1 and gets every one of them, in
order, none lost, each exactly once, before anything published later."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from storeutil import *  # noqa: E402,F401,F403

QOS = 2
N = 200          # per publisher; two publishers (3.1.1 and v5)


def test():
    store_only()
    with Broker() as b:
        subs = [Receiver(b.port, "crash-q%d-sub-%d" % (QOS, v), version=v)
                for v in (V311, V5)]
        for r in subs:
            r.connect(clean=False, expect_present=0)
            r.subscribe([("crash/q%d/+" % QOS, QOS)])
            r.disconnect()

        want = []
        pubs = []      # left connected through the kill
        for v in (V311, V5):
            p = Publisher(b.port, "crash-q%d-pub-%d" % (QOS, v), version=v)
            pubs.append(p)
            pl = payloads("v%d" % v, N, size=40 if v == V311 else 700)
            acked = p.publish_acked("crash/q%d/%d" % (QOS, v), pl, qos=QOS)
            check_eq(len(acked), N, "v%d publisher: messages acknowledged"
                     % v)
            want += acked
        crash(b)

        for r in subs:
            r.connect(clean=False, expect_present=1)
            got = r.receive_n(2 * N, timeout=8.0)
            check_in_order_once([d[1] for d in got], want,
                                "%s after kill -9" % r.client_id)
            check(all(d[2] == QOS for d in got), "delivered at QoS %d"
                  % QOS)
        # nothing else is queued: a message published now comes next
        p = Publisher(b.port, "crash-q%d-marker" % QOS)
        p.publish_one("crash/q%d/marker" % QOS, b"marker", qos=QOS)
        p.close()
        for r in subs:
            r.wait_payload(b"marker")
            check_eq(len(r.delivered), 2 * N + 1, "%s: deliveries"
                     % r.client_id)
            check_eq(r.dups, [], "%s: QoS 2 duplicates" % r.client_id)
            r.expect_quiet(0.2)
            r.end_session()

main(test)
