#!/usr/bin/env python3
"""max_queued_messages across a crash: with max_queued_messages 5, an
offline persistent session keeps the first 5 of 10 messages published
(acknowledged to the publisher either way). After kill -9 and a restart
the limit still counts what is on disk: 3 more published while it is
offline are dropped too. On reconnect it gets exactly the first 5, in
order, then what is new. The same with max_queued_bytes 1000 and
300-byte messages: 3 kept; after the restart a 200-byte message does not
fit and a 50-byte one does (the payload bytes on disk are counted).
$SYS/broker/publish/messages/dropped counts the drops since start-up."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from storeutil import *  # noqa: E402,F401,F403
from cluster import SYS, SYS_CONF, SysWatch  # noqa: E402

DROPPED = SYS + "publish/messages/dropped"

LIMIT = 5


def test():
    store_only()
    with Broker(conf=["max_queued_messages %d" % LIMIT, SYS_CONF]) as b:
        subs = []
        for v in (V311, V5):
            r = Receiver(b.port, "ql-sub-%d" % v, version=v)
            r.connect(clean=False, expect_present=0)
            r.subscribe([("ql/t", 1 + v % 2)])      # 3.1.1 QoS 1, v5 QoS 2
            r.disconnect()
            subs.append(r)
        pub = Publisher(b.port, "ql-pub", version=V5)
        first = payloads("m", 10)
        acked = pub.publish_acked("ql/t", first, qos=2, window=1)
        check_eq(acked, first, "publisher: all acknowledged")
        watch = SysWatch(b.port)
        watch.wait(DROPPED, lambda v: v == "10",
                   what="10 drops counted (5 for each session)")
        watch.close()
        crash(b)
        pub = Publisher(b.port, "ql-pub", version=V5)
        later = payloads("late", 3)
        pub.publish_acked("ql/t", later, qos=1, window=1)
        watch = SysWatch(b.port)
        watch.wait(DROPPED, lambda v: v == "6",
                   what="6 drops counted since the restart")
        watch.close()
        for r in subs:
            r.connect(clean=False, expect_present=1)
            got = r.receive_n(LIMIT)
            check_in_order_once([d[1] for d in got], first[:LIMIT],
                                "%s: queued messages" % r.client_id)
        pub.publish_one("ql/t", b"marker", qos=1)
        for r in subs:
            r.wait_payload(b"marker")
            check_eq(r.payloads(), first[:LIMIT] + [b"marker"],
                     "%s: deliveries" % r.client_id)
            r.expect_quiet(0.2)
            r.end_session()
        pub.close()

    with Broker(conf=["max_queued_bytes 1000"], name="bytes") as b:
        r = Receiver(b.port, "qb-sub", version=V5)
        r.connect(clean=False, expect_present=0)
        r.subscribe([("qb/t", 1)])
        r.disconnect()
        pub = Publisher(b.port, "qb-pub", version=V311)
        big = payloads("b", 10, size=300)
        pub.publish_acked("qb/t", big, qos=1, window=1)
        crash(b)
        pub = Publisher(b.port, "qb-pub", version=V311)
        pub.publish_one("qb/t", b"x" * 200, qos=1)
        pub.publish_one("qb/t", b"small", qos=1)
        r.connect(clean=False, expect_present=1)
        got = r.receive_n(4)
        check_in_order_once([d[1] for d in got], big[:3] + [b"small"],
                            "max_queued_bytes: queued messages")
        pub.publish_one("qb/t", b"marker", qos=1)
        r.wait_payload(b"marker")
        check_eq(len(r.delivered), 5, "max_queued_bytes: deliveries")
        r.end_session()
        pub.close()


main(test)
