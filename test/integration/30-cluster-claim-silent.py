#!/usr/bin/env python3
"""Cluster liveness: a CONNECT does not wait on a node that is not there.

n2 holds a persistent session with a queued QoS 2 message, then stalls
(SIGSTOP: its links stay up and carry nothing). The client connects to
n1: n1 tells n2 of the claim but does not wait for a node that stopped
answering its link (pings every 0.5 s, silent after 1.5 s), so the
CONNACK comes well within cluster_sync_timeout (20 s here; the bound
checked is 10 s, generous for a loaded machine). When n2 resumes it
reads the claim, gives the session up and moves it to n1, where it
merges into the client's: the queued message arrives, once."""
import os
import signal
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, log, main  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import Cluster  # noqa: E402
from storeutil import Publisher, Receiver, check_in_order_once  # noqa

BOUND = 10.0


def test():
    with Cluster(2, sync_timeout=20000) as cl:
        r = Receiver(cl[1].port, "cs-sub", version=raw.V5)
        r.connect(clean=False, expect_present=0)
        r.subscribe([("cs/t", 2)])
        r.disconnect()
        p = Publisher(cl[1].port, "cs-pub", version=raw.V5)
        p.publish_one("cs/t", b"queued-on-n2", qos=2)
        p.close()
        cl[1].signal(signal.SIGSTOP)
        try:
            r.port = cl[0].port
            t0 = time.monotonic()
            r.c = raw.Client(r.port, version=r.version, timeout=BOUND + 15)
            r.connack = r.c.connect(r.client_id, clean=False, properties={
                "session_expiry_interval": 300})
            waited = time.monotonic() - t0
            log("CONNACK on n1 after %.2f s while n2 stalls (session "
                "present %d)" % (waited, r.connack.session_present))
            check(waited < BOUND, "CONNACK within %.0f s while n2 stalls "
                  "(took %.2f s)" % (BOUND, waited))
            if not r.connack.session_present:
                r.subscribe([("cs/t", 2)], mid=2)
        finally:
            cl[1].signal(signal.SIGCONT)
        r.run_until(lambda s: len(s.delivered) >= 1 and not s.awaiting_rel,
                    15.0, "the message queued on n2, once n2 resumed")
        r.expect_quiet(1.0)
        check_in_order_once(r.payloads(), [b"queued-on-n2"],
                            "messages at the client on n1")
        r.end_session()


main(test)
