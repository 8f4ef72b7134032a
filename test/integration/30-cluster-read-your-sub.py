#!/usr/bin/env python3
"""Cluster: read your subscription. Once a client holds its SUBACK, a
message published on any other node reaches it: K times, a subscriber on
n2 subscribes to a filter never used before (a new route) and, the moment
the SUBACK is in, a QoS 1 message is published on n1 and another on n3 by
publishers already connected there; both must arrive (no sleep anywhere).
Subscribers alternate between MQTT 5 and 3.1.1, filters between exact and
wildcard ones, and one round subscribes to several new filters in one
SUBSCRIBE."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, log, main  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import Cluster  # noqa: E402
from storeutil import Publisher, Receiver  # noqa: E402

K = 20
WARN = "SUBACK to"


def test():
    # a SUBACK is held until every linked node confirmed the route, at
    # most cluster_sync_timeout: generous here, so that a slow machine
    # does not turn the guarantee into a timeout
    with Cluster(3, sync_timeout=15000) as cl:
        p1 = Publisher(cl[0].port, "rys-pub-1", version=raw.V5)
        p3 = Publisher(cl[2].port, "rys-pub-3", version=raw.V311)
        for k in range(K):
            v = raw.V5 if k % 2 == 0 else raw.V311
            r = Receiver(cl[1].port, "rys-sub-%d" % k, version=v)
            r.connect(clean=True)
            if k % 3 == 0:
                filters = [("rys/%d/+/x" % k, 1)]
                topic = "rys/%d/a/x" % k
            elif k % 3 == 1:
                filters = [("rys/%d" % k, 1)]
                topic = "rys/%d" % k
            else:
                filters = [("rys/%d/one" % k, 1), ("rys/%d/#" % k, 1),
                           ("rys/%d/two" % k, 1)]
                topic = "rys/%d/deep/er" % k
            r.subscribe(filters, mid=k + 1)
            # right after the SUBACK
            p1.publish_one(topic, b"from-n1-%d" % k, qos=1)
            p3.publish_one(topic, b"from-n3-%d" % k, qos=1)
            r.run_until(lambda s: len(s.delivered) >= 2, 10.0,
                        "round %d: both messages" % k)
            got = sorted(d[1] for d in r.delivered)
            check_eq(got, [b"from-n1-%d" % k, b"from-n3-%d" % k],
                     "round %d: messages at the subscriber on n2" % k)
            r.disconnect()
        p1.close()
        p3.close()
        warned = [i + 1 for i in range(3) if WARN in cl[i].log()]
        check(not warned, "SUBACK sent before every node confirmed on "
              "n%r" % warned)
        log("%d rounds" % K)


main(test)
