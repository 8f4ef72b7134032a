#!/usr/bin/env python3
"""Cluster: links come back after a node restarts, and what was published
for its subscribers meanwhile is not lost.

n2 is stopped (SIGTERM, then in a second round kill -9) and started again
on the same ports and data dir: every node has its links up again, a
message crosses n1 -> n2 and n2 -> n1 (and n3 -> n2), and a persistent
QoS 1 subscriber on n2 (3.1.1 clean session 0, and a 5.0 one with clean
start 0 and a session expiry), offline while n2 was down, resumes its
session and gets every QoS 1 message n1 acknowledged meanwhile, in order,
once: n1 kept them in its durable forward queue for n2."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import Sub, check, check_eq, log, main, pub  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import Cluster  # noqa: E402
from storeutil import (Publisher, Receiver, check_in_order_once,  # noqa
                       payloads)

N = 100
_n = [0]


def crosses(cl, src, dst):
    """A QoS 1 message published on node src reaches a new subscriber on
    node dst (right after its SUBACK)."""
    _n[0] += 1
    topic = "rec/cross/%d" % _n[0]
    msg = "cross-%d-n%d-n%d" % (_n[0], src + 1, dst + 1)
    with Sub(cl[dst].port, topic, qos=1, count=1, wait_secs=20) as s:
        s.wait_ready(10.0)
        pub(cl[src].port, topic, msg, qos=1)
        s.wait_count(1, timeout=15.0)
        check_eq(s.finish(), 0, "mosquitto_sub exit status")
        check_eq(s.payloads, [msg], "n%d -> n%d" % (src + 1, dst + 1))


def test():
    with Cluster(3) as cl:
        subs = [Receiver(cl[1].port, "rec-sub-%d" % v, version=v)
                for v in (raw.V311, raw.V5)]
        for r in subs:
            r.connect(clean=False, expect_present=0)
            r.subscribe([("rec/q/#", 1)])
        # A persistent session on n2 that is always away: a QoS 1 message
        # for it is written to n2's store, and its PUBACK waits for that
        # commit, so all n2 wrote before (the subscribers' acks) is on
        # disk by then (commits are in order).
        bar = raw.Client(cl[1].port, version=raw.V311)
        bar.connect("rec-barrier", clean=False)
        bar.subscribe("rec/barrier", qos=1)
        bar.disconnect()
        for a, b in ((0, 1), (1, 0), (2, 1)):
            crosses(cl, a, b)

        p = Publisher(cl[0].port, "rec-pub", version=raw.V5)
        for rnd, graceful in enumerate((True, False)):
            how = "SIGTERM" if graceful else "kill -9"
            # before: online delivery
            p.acked = []
            before = list(p.publish_acked(
                "rec/q/%d" % rnd, payloads("before-%d" % rnd, 10), qos=1))
            for r in subs:
                got = r.receive_n(10, timeout=15.0)
                check_in_order_once([d[1] for d in got], before,
                                    "%s before the %s" % (r.client_id, how))
                # n2 handles a connection's packets in order: once the
                # PINGRESP is back, the PUBACKs before it are in (a
                # PUBACK still in the socket when n2 stops would make the
                # message come again, as QoS 1 allows)
                r.c.ping()
            # ... and those acks are on disk before n2 is stopped: what
            # comes again after kill -9 is then only what QoS 1 allows
            # (without this, a slow store could still hold the acks of
            # the round before, and they would come again too)
            bp = Publisher(cl[1].port, "rec-bar-pub-%d" % rnd,
                           version=raw.V5)
            check_eq(bp.publish_one("rec/barrier", b"bar-%d" % rnd), 0,
                     "the barrier message acknowledged by n2")
            bp.close()

            b = cl[1]
            if graceful:
                b.stop()
            else:
                b.kill9()
            for r in subs:
                r.abort()
            # n1 acknowledges while n2 is down; n2's routes are kept
            # (cluster_route_grace) and its queue on n1 fills
            p.acked = []
            want = list(p.publish_acked(
                "rec/q/%d" % rnd, payloads("down-%d" % rnd, N), qos=1))
            check_eq(len(want), N, "acknowledged on n1 while n2 is down")
            log("round %d: %d messages acknowledged while n2 was down "
                "(%s)" % (rnd, N, how))

            b._fixed_port = b.port
            b.start()
            cl.wait_links(timeout=30.0)
            for r in subs:
                r.connect(clean=False, expect_present=1)
            for r in subs:
                start = len(r.delivered)
                r.run_until(lambda s: set(want) <= set(s.payloads()[start:]),
                            30.0, "the %d messages queued on n1" % N)
                got = [d[1] for d in r.delivered[start:]]
                # QoS 1 after kill -9: the messages delivered (and
                # acknowledged) just before may come again; nothing else
                again = [g for g in got if g not in want]
                check(set(again) <= set(before) and not graceful or
                      not again, "%s after n2's %s: unexpected %r"
                      % (r.client_id, how, again))
                if again:
                    log("%s: %d messages delivered again after kill -9"
                        % (r.client_id, len(again)))
                check_in_order_once([g for g in got if g in want], want,
                                    "%s after n2's %s" % (r.client_id, how))
            for a, c in ((0, 1), (1, 0), (2, 1), (1, 2)):
                crosses(cl, a, c)
            # nothing else was queued: the next message comes next
            p.publish_one("rec/q/%d" % rnd, b"marker-%d" % rnd, qos=1)
            for r in subs:
                got = r.receive_n(1, timeout=15.0)
                check_eq(got[0][1], b"marker-%d" % rnd,
                         "%s: next after the queue" % r.client_id)
        p.close()
        for r in subs:
            r.disconnect()


main(test)
