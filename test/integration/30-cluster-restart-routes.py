#!/usr/bin/env python3
"""Cluster: a node that restarts does not take clients before it has the
other nodes' routes, so it never answers "no matching subscribers" for,
and drops, a message that a subscriber on another node is owed.

n1 is killed (kill -9) and kept down for 6 s, so that n2's redial of it
backs off (200 ms doubling up to 5 s). n1 restarts: it dials n2, which
dials n1 back at once (it is back) and resends its routes; n1's client
listener waits for them (at most cluster_sync_timeout, 1 s here: less
than the backoff). A QoS 1 message
published on n1 right after its ready file appears is acknowledged with
success (not 0x10) and reaches the subscriber on n2. Three rounds."""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, log, main, wait_for  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import Cluster  # noqa: E402
from storeutil import Publisher, Receiver  # noqa

ROUNDS = 3


def test():
    with Cluster(2, sync_timeout=1000) as cl:
        r = Receiver(cl[1].port, "rr-sub", version=raw.V5)
        r.connect(clean=False, expect_present=0)
        r.subscribe([("rr/t", 1)])
        n1 = cl[0]
        for k in range(ROUNDS):
            n1.kill9()
            wait_for(lambda: "n1" not in cl.links_up(1), 20.0,
                     "n2 sees its link to n1 down")
            time.sleep(6.0)  # let n2's redial back off to 5 s
            n1._fixed_port = n1.port
            n1.start()
            p = Publisher(n1.port, "rr-pub-%d" % k, version=raw.V5)
            msg = b"after-restart-%d" % k
            reason = p.publish_one("rr/t", msg, qos=1)
            p.close()
            log("round %d: PUBACK reason %#x" % (k, reason))
            check_eq(reason, 0, "round %d: PUBACK of a message for a "
                     "subscriber on n2, right after n1's restart" % k)
            r.run_until(lambda s: msg in s.payloads(), 10.0,
                        "round %d: the message at the subscriber on n2" % k)
            cl.wait_links()
        check("routes of every node known are in" in n1.log(),
              "n1 held its clients until it had n2's routes")
        r.expect_quiet(0.3)
        r.end_session()


main(test)
