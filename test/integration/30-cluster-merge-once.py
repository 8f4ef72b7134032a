#!/usr/bin/env python3
"""Cluster: two copies of one session, merged, hand out each message once.

A persistent subscriber's session lives on n2, which is killed (kill -9).
The client reconnects to n1, which cannot claim the id from n2 (its link
is down) and makes a new session: two copies. A QoS 2 message and a QoS 1
message published on n1 then reach both copies: n1's own, and n2's
through n1's forward queue (n2's routes are in grace), which n2 gets
once it is back with its stored session. The client reconnects to n1,
whose claim moves n2's copy in and merges it: every message is delivered
once (QoS 2 exactly once; QoS 1 once here too), nothing is lost, and a
message published after the merge arrives once. Both protocol versions.
"""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, log, main, wait_for  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import Cluster  # noqa: E402
from storeutil import Publisher, Receiver, check_in_order_once  # noqa


def round_(cl, version):
    tag = "v%d" % version
    topic = "mo/%s" % tag
    r = Receiver(cl[1].port, "mo-sub-%s" % tag, version=version)
    r.connect(clean=False, expect_present=0)
    r.subscribe([(topic, 2)])
    r.disconnect()
    n2 = cl[1]
    n2.kill9()
    wait_for(lambda: "n2" not in cl.links_up(0), 20.0,
             "n1 sees its link to n2 down")
    r.port = cl[0].port
    r.connect(clean=False)   # nobody to claim from: a second copy
    log("%s: session present on n1 while n2 is down: %d"
        % (tag, r.connack.session_present))
    if not r.connack.session_present:
        r.subscribe([(topic, 2)], mid=2)
    r.disconnect()
    p = Publisher(cl[0].port, "mo-pub-%s" % tag, version=raw.V5)
    p.publish_one(topic, b"two-%s" % tag.encode(), qos=2)
    p.publish_one(topic, b"one-%s" % tag.encode(), qos=1)
    p.close()
    n2._fixed_port = n2.port
    n2.start()       # its stored session comes back
    cl.wait_links()
    # n2 gets what n1's forward queue held for it before the claim
    # below: both go on n1's link to n2, in that order
    r.connect(clean=False, expect_present=1)
    r.run_until(lambda s: len(s.delivered) >= 2 and not s.awaiting_rel,
                10.0, "%s: the two messages" % tag)
    r.expect_quiet(1.0)
    p = Publisher(cl[0].port, "mo-pub2-%s" % tag, version=raw.V311)
    p.publish_one(topic, b"after-%s" % tag.encode(), qos=2)
    p.close()
    r.run_until(lambda s: any(d[1] == b"after-%s" % tag.encode()
                              for d in s.delivered) and not s.awaiting_rel,
                10.0, "%s: the message after the merge" % tag)
    r.expect_quiet(0.5)
    log("%s: delivered %r" % (tag, r.payloads()))
    check_in_order_once(sorted(r.payloads()),
                        sorted([b"two-%s" % tag.encode(),
                                b"one-%s" % tag.encode(),
                                b"after-%s" % tag.encode()]),
                        "%s: each message once" % tag)
    r.end_session()


def test():
    with Cluster(2, sync_timeout=1000) as cl:
        for version in (raw.V5, raw.V311):
            round_(cl, version)
        check(cl[0].alive() and cl[1].alive(), "both nodes up")


main(test)
