#!/usr/bin/env python3
"""Cluster: group members whose messages wait in a group log (one entry
per message, a span per member: group_log_threshold) roam to another
node, after their home node was killed (kill -9) and restarted: each
gets every acknowledged group message, in order, each once (QoS 2 ones
never twice), wherever it connects.

12 offline persistent members on n1 (3.1.1 and 5, QoS 1 and 2) of one
group topic; 40 messages published on n2 and acknowledged, then n1 is
killed and restarted, 40 more are published (on n1 this time). Half the
members resume on n1, half connect to n2 (their sessions move there with
their queues, read back from the spans). n1's metrics say the group's
messages went through the log."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, log, main  # noqa: E402
import mqttraw as raw  # noqa: E402
import metricsutil as mu  # noqa: E402
from cluster import Cluster  # noqa: E402
from storeutil import (Publisher, Receiver, check_in_order_once,  # noqa
                       payloads, store_only)

TOPIC = "grp/roam/1"


def test():
    store_only()
    with Cluster(2, conf=list(mu.conf()) + ["group_log_threshold 4",
                                            "offline_queue_cache 0"]) as cl:
        n1, n2 = cl[0], cl[1]
        mem = []
        for i in range(12):
            v = raw.V311 if i % 2 == 0 else raw.V5
            r = Receiver(n1.port, "roam-%02d" % i, version=v)
            r.connect(clean=False, expect_present=0)
            r.subscribe([(TOPIC, 2 if i % 3 == 0 else 1)])
            r.disconnect()
            mem.append(r)
        pub = Publisher(n2.port, "roam-pub", version=raw.V5)
        first = payloads("a", 40)
        for k in range(0, 40, 10):
            pub.publish_acked(TOPIC, first[k:k + 10], qos=2 if k % 20 else 1)
        pub.close()
        entries = int(mu.scrape(n1.http_port).get(
            "tern_group_log_entries_total"))
        log("n1: %d group log entries" % entries)
        check_eq(entries, 40, "n1 wrote each group message once")
        cl.restart(0, graceful=False)
        pub = Publisher(n1.port, "roam-pub2", version=raw.V5)
        second = payloads("b", 40)
        pub.publish_acked(TOPIC, second, qos=2)
        pub.close()
        want = first + second
        for i, r in enumerate(mem):
            r.port = n1.port if i % 2 == 0 else n2.port
            r.connect(clean=False, expect_present=1)
            r.run_until(lambda s: want[-1] in s.payloads() and
                        not s.awaiting_rel, 20.0, "every message")
            check_in_order_once(r.payloads(), want, "%s on %s"
                                % (r.client_id, "n1" if i % 2 == 0
                                   else "n2"))
            check(not r.dups or i % 3 == 0, "%s: duplicates %r"
                  % (r.client_id, r.dups))
            r.expect_quiet(0.3)
            r.disconnect()


main(test)
