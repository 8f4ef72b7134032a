#!/usr/bin/env python3
"""Review: a SUBACK held for a node's route acknowledgement is not
released when that node's link goes down; it waits for the whole
cluster_sync_timeout.

ARCHITECTURE.md: "A node whose link is down is not waited for". n2 is
stopped (SIGSTOP), so it cannot acknowledge the routes of a SUBSCRIBE on
n1: the SUBACK is held, as it should be. Then n2 dies (SIGKILL) and n1's
link to it goes down. bridge_closed() runs from conn_close() before the
connection is marked CLOSING, so bridge_routes_acked(p, 0) -> held_check()
still counts the link as up (bridge_peer_up) and keeps waiting; nothing
checks again after, and the SUBACK goes out only at cluster_sync_timeout
(here 60 s), with the "sent before every node confirmed" warning.

Expected: the SUBACK soon after n1 has seen the link go down."""
import os
import signal
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, log, main, wait_for  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import Cluster  # noqa: E402


def test():
    with Cluster(2, sync_timeout=60000) as cl:
        c = raw.Client(cl[0].port, version=raw.V5)
        c.connect("suback-waiter")
        cl[1].signal(signal.SIGSTOP)
        c.send(raw.subscribe(1, [("held/topic", 1)], version=raw.V5))
        c.expect_none(1.0)          # held: n2 cannot acknowledge
        cl[1].kill9()
        wait_for(lambda: "cluster link to n2 (" in cl[0].log() and
                 ") down" in cl[0].log(), 10.0, "n1: link to n2 down")
        try:
            ack = c.expect(raw.SUBACK, 10.0, "SUBACK after the link to n2 "
                           "went down")
        except AssertionError as e:
            check(False, "%s: still held (it waits for "
                  "cluster_sync_timeout although n2's link is down)" % e)
        log("SUBACK %r" % ack)
        check("sent before every node confirmed" not in cl[0].log(),
              "SUBACK released by the timeout, not by the link going down")
        c.disconnect()


main(test)
