#!/usr/bin/env python3
"""Cluster: a message goes once to each node with a matching subscription,
never to a node without one, and never once per subscriber. Counted with
the $SYS topics of the publishing node (nodes/<name>/forwarded) and of the
receiving node (nodes/<name>/received)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check_eq, log, main  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import (Cluster, SysWatch, SYS_CONF, settle_all,  # noqa
                     sys_node)
from storeutil import (Publisher, Receiver, check_in_order_once,  # noqa
                       payloads)

N = 100


def counts(w, names, what):
    return {n: w.num(sys_node(n, what)) for n in names}


def test():
    with Cluster(3, conf=[SYS_CONF]) as cl:
        w1 = SysWatch(cl[0].port, "n1")
        w3 = SysWatch(cl[2].port, "n3")
        for n in ("n2", "n3"):
            w1.wait_eq(sys_node(n, "link"), "up")
            w1.wait_eq(sys_node(n, "forwarded"), 0)
        w3.wait_eq(sys_node("n1", "received"), 0)

        # n2 holds a route too, that matches nothing published here
        other = Receiver(cl[1].port, "om-other", version=raw.V5)
        other.connect(clean=True)
        other.subscribe([("om/other/#", 1)])

        # one subscriber on n3
        s1 = Receiver(cl[2].port, "om-sub-1", version=raw.V5)
        s1.connect(clean=True)
        s1.subscribe([("om/t/+", 1)])
        # n1 knows n3's route and n2's (the SUBACKs waited for it)
        w1.wait_num(sys_node("n3", "routes"), lambda v: v >= 1)
        w1.wait_num(sys_node("n2", "routes"), lambda v: v >= 1)

        pub = Publisher(cl[0].port, "om-pub", version=raw.V5)
        want = list(pub.publish_acked("om/t/a", payloads("one", N),
                                      qos=1))
        check_eq(len(want), N, "messages acknowledged on n1")
        pub.publish_one("om/t/a", b"marker-1", qos=1)
        got = s1.receive_until_payload(b"marker-1", timeout=20.0)
        check_in_order_once(got, want, "n3's subscriber, before the "
                            "marker")

        w1.wait_num(sys_node("n3", "forwarded"), lambda v: v >= N + 1,
                    what="n1 forwarded N+1 to n3")
        settle_all([w1, w3])
        check_eq(counts(w1, ("n2", "n3"), "forwarded"),
                 {"n2": 0, "n3": N + 1},
                 "n1's forwarded counts (one subscriber on n3)")
        check_eq(w3.num(sys_node("n1", "received")), N + 1,
                 "n3's count of messages received from n1")

        # a second subscriber on n3 to the same filter, and a third to an
        # overlapping one: still once per node
        s2 = Receiver(cl[2].port, "om-sub-2", version=raw.V311)
        s2.connect(clean=True)
        s2.subscribe([("om/t/+", 1)])
        s3 = Receiver(cl[2].port, "om-sub-3", version=raw.V5)
        s3.connect(clean=True)
        s3.subscribe([("om/#", 1)])
        pub.acked = []
        want2 = list(pub.publish_acked("om/t/b", payloads("two", N),
                                       qos=1))
        check_eq(len(want2), N, "messages acknowledged on n1")
        pub.publish_one("om/t/b", b"marker-2", qos=1)
        for s in (s1, s2, s3):
            got = s.receive_until_payload(b"marker-2", timeout=20.0)
            check_in_order_once(got, want2, "%s, before the marker"
                                % s.client_id)
        w1.wait_num(sys_node("n3", "forwarded"),
                    lambda v: v >= 2 * N + 2,
                    what="n1 forwarded 2N+2 to n3")
        settle_all([w1, w3])
        check_eq(counts(w1, ("n2", "n3"), "forwarded"),
                 {"n2": 0, "n3": 2 * N + 2},
                 "n1's forwarded counts (three subscribers on n3)")
        check_eq(w3.num(sys_node("n1", "received")), 2 * N + 2,
                 "n3's count of messages received from n1")
        log("forwarded from n1: %r" % counts(w1, ("n2", "n3"),
                                            "forwarded"))

        # nothing else reached the subscribers
        for s in (s1, s2, s3, other):
            s.expect_quiet(0.3)
        check_eq(other.delivered, [], "n2's subscriber to om/other/#")
        pub.close()
        for s in (s1, s2, s3, other):
            s.disconnect()
        w1.close()
        w3.close()


main(test)
