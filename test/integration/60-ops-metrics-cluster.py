#!/usr/bin/env python3
"""A 3-node cluster, each node with an HTTP listener: every node's
tern_cluster_link_up is 1 for each of the two others, with bytes sent
and read on the links; a message forwarded shows in forwarded/received;
once n3 is stopped, n1 and n2 say up=0 for n3 (and still 1 for each
other)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
from cluster import Cluster  # noqa: E402
import metricsutil as mu  # noqa: E402
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402


def test():
    with Cluster(3, conf=mu.conf()) as c:
        names = c.names

        def links(i, want):
            m = mu.scrape(c[i].http_port)
            got = {p: m.get("tern_cluster_link_up", peer=p)
                   for p in names if p != names[i]}
            return got == want, m

        for i, name in enumerate(names):
            want = {p: 1.0 for p in names if p != name}
            wait_for(lambda: links(i, want)[0], 10.0,
                     "%s: every link up" % name)
            m = links(i, want)[1]
            for p in want:
                check(m.get("tern_cluster_link_sent_bytes_total",
                            peer=p) > 0, "%s sent bytes to %s" % (name, p))
                check(m.get("tern_cluster_link_received_bytes_total",
                            peer=p) > 0, "%s read bytes from %s"
                      % (name, p))
                check(m.get("tern_cluster_queued_messages", peer=p) >= 0,
                      "%s queued for %s" % (name, p))

        # one message from n1 to a subscriber on n2
        sub = raw.Client(c[1].port, version=V5)
        sub.connect("mc-sub")
        sub.subscribe("mc/t", qos=1)
        pub = raw.Client(c[0].port, version=V5)
        pub.connect("mc-pub")

        def forwarded():
            pub.publish("mc/t", b"x", qos=1, mid=1)
            sub.recv_publish(timeout=2.0)
            return True
        # routes reach n1 within a moment of the SUBACK
        wait_for(lambda: mu.scrape(c[0].http_port).get(
            "tern_subscriptions") >= 1, 10.0, "n1 has n2's route")
        forwarded()
        m1 = mu.scrape(c[0].http_port)
        check(m1.get("tern_cluster_forwarded_messages_total",
                     peer="n2") >= 1, "n1 forwarded to n2")
        wait_for(lambda: mu.scrape(c[1].http_port).get(
            "tern_cluster_received_messages_total", peer="n1") >= 1, 5.0,
            "n2 received from n1")
        sub.disconnect()
        pub.disconnect()

        c[2].stop()
        for i in (0, 1):
            want = {names[1 - i]: 1.0, "n3": 0.0}
            wait_for(lambda: links(i, want)[0], 15.0,
                     "%s: n3 down, the other up" % names[i])


main(test)
