#!/usr/bin/env python3
"""Cluster: a message published on one node reaches a subscriber on
another, at QoS 0, 1 and 2, between a 3.1.1 and a 5.0 client both ways,
in order and exactly once."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import Sub, pub, check_eq, main  # noqa: E402
from cluster import Cluster  # noqa: E402

N = 50


def test():
    with Cluster(3) as cl:
        for qos in (0, 1, 2):
            for sv, pv, si, pi in ((5, 4, 2, 0), (4, 5, 0, 1)):
                topic = "cross/q%d/v%d" % (qos, sv)
                msgs = ["q%d-%03d" % (qos, i) for i in range(N)]
                with Sub(cl[si].port, topic, qos=qos, version=sv, count=N,
                         wait_secs=20) as s:
                    s.wait_ready()
                    pub(cl[pi].port, topic, msgs, qos=qos, version=pv)
                    s.wait_count(N, timeout=10)
                    check_eq(s.finish(), 0, "mosquitto_sub exit status")
                    check_eq(s.payloads, msgs, "payloads at QoS %d, "
                             "v%d -> v%d" % (qos, pv, sv))
                    check_eq({m[2] for m in s.messages}, {qos},
                             "delivered QoS")
                    check_eq(sum(s.dups), 0, "PUBLISHes with DUP set")


main(test)
