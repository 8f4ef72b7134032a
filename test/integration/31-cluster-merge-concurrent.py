#!/usr/bin/env python3
"""Cluster: two copies of a session moving into one node at once merge as
one move: the merge lasts until both have ended, whichever ends first.

Three nodes, each link through its own fault proxy. A persistent QoS 2
subscriber (v5) is on n3, offline. n3 is killed; the subscriber connects
to n2, where a second copy of its session is made (n3 does not answer).
A QoS 2 message M is published on n1: n2 delivers it, and the client
sends PUBREC and goes before the PUBREL, so n2's copy holds M as
"PUBREC received". n1 also queued M for n3, and gives it to n3's copy
when n3 is back. The client then connects to n1, which claims both
copies. n2's move is slowed (its link to n1 at 300 bytes/s) and n3's
delayed (600 ms), so n2's copy starts arriving first, n3's arrives
whole, and M from n2 comes after n3's move has ended. The merge must
still be on then: M goes on as the open flow (PUBREL of its packet id),
and n3's unsent copy of M is not delivered. (The merge once ended with
the move that ended first: M came again with a new packet id, and the
open flow was never released.)"""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, log, main, tern_only  # noqa: E402
import mqttraw as raw  # noqa: E402
from faultcluster import FaultCluster, drain_quiet  # noqa: E402
from storeutil import Publisher, Receiver  # noqa: E402

TOPIC = "mc/u/1"


def test():
    tern_only("a cluster of ternd nodes")
    with FaultCluster(3, tag="mc", log_level="debug") as fc:
        check(fc.wait_links(20.0), "links up: %s" % fc.link_report())
        r = Receiver(fc.nodes[2].port, "mc-sub", version=raw.V5)
        r.connect(clean=False, expect_present=0)
        r.subscribe([(TOPIC, 2)])
        r.c.disconnect()
        r.c = None
        time.sleep(0.5)  # n3's route reaches n1 and n2
        fc.kill(2)
        log("n3 killed")
        r.port = fc.nodes[1].port
        r.connect(clean=False, expect_present=0)
        r.subscribe([(TOPIC, 2)])
        time.sleep(0.5)  # n2's route reaches n1
        p = Publisher(fc.nodes[0].port, "mc-pub", version=raw.V5)
        check_eq(p.publish_one(TOPIC, b"M", qos=2), 0, "PUBREC of M on n1")
        pkt = r.recv(5.0)
        check(pkt.type == raw.PUBLISH and pkt.payload == b"M",
              "M from n2: %r" % pkt)
        r.handle(pkt)  # PUBREC
        time.sleep(0.3)
        r.c.close()  # gone before the PUBREL
        r.c = None
        held = set(r.awaiting_rel)
        log("M delivered by n2 with packet id %r; PUBREC sent" % held)
        fc.start_node(2)
        check(fc.wait_links(20.0), "links up again: %s" % fc.link_report())
        time.sleep(2.0)  # n1's forward queue gives M to n3's copy
        fc._each([fc.link(1, 0)], "bandwidth 300")
        fc._each([fc.link(2, 0)], "latency 600")
        time.sleep(1.0)
        log("n2 -> n1 at 300 bytes/s, n3 -> n1 600 ms late")
        r.port = fc.nodes[0].port
        r.connect(clean=False, expect_present=1)
        drain_quiet(r, quiet=2.5, bound=15.0)
        fc._each([fc.link(1, 0)], "bandwidth off")
        fc._each([fc.link(2, 0)], "latency 0")
        p.close()
        log("delivered: %r; PUBRELs: %r" % (r.payloads(), r.pubrels))
        check(held and held <= set(r.pubrels),
              "the open flow of M (%r) released on n1" % held)
        check_eq(r.payloads().count(b"M"), 1, "M delivered once")
        check(not r.dups, "no QoS 2 duplicates: %r" % r.dups)
        check(not r.awaiting_rel, "every QoS 2 flow released")
        # The case happened: n2's move began first and ended last.
        lg = fc.nodes[0].log()
        at = [lg.find("session mc-sub %s" % w) for w in (
            "moving here from n2", "moved here from n3",
            "moved here from n2")]
        check(-1 not in at and at == sorted(at),
              "n1's log: n2's move began, n3's ended, then n2's ended "
              "(positions %r)" % at)


main(test)
