#!/usr/bin/env python3
"""Cluster under faults: a node is killed (kill -9) and restarted while
messages flow.

Three nodes, links through fault proxies (test/lib/faultcluster.py).
Six persistent subscribers (3.1.1 clean session 0 and 5 with a session
expiry, QoS 2) on random nodes, reconnecting to a random node when their
connection drops and every 2-6 s besides; one publisher per node sends
QoS 1 and QoS 2 messages to random users (60 msg/s in all, for 8 s).
2.5 s in, n2 is killed with SIGKILL; 3 s later it starts again on the
same data dir and ports (its publisher reconnects to it and sends again
what was not acknowledged). Then every user reconnects and drains its
queue: every message a node acknowledged (PUBACK, or PUBREC with reason
< 0x80) has been delivered to its user, and each QoS 2 one exactly once
(test/lib/storeutil.py's conforming receiver judges duplicates)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import log, main  # noqa: E402
from faultcluster import fault_round  # noqa: E402

VICTIM = 1          # n2


def fault(fc, tl, users):
    def kill():
        pid = fc.kill(VICTIM)
        tl.add("kill", "kill -9 %s pid %d" % (fc.names[VICTIM], pid))
        log("kill -9 of %s (pid %d)" % (fc.names[VICTIM], pid))

    def restart():
        pid = fc.start_node(VICTIM)
        tl.add("ready", "%s restarted, pid %d" % (fc.names[VICTIM], pid))
        log("%s restarted (pid %d)" % (fc.names[VICTIM], pid))
    return [(2.5, kill), (5.5, restart)]


def test():
    fault_round("cfkill", fault=fault, roam=4.0)


main(test)
