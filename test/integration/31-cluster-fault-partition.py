#!/usr/bin/env python3
"""Cluster under faults: a node is cut off from the others, then the
partition heals.

Three nodes, every link through its own fault proxy, one per direction
(test/lib/faultcluster.py), so that n1 can be cut off completely: 2 s
in, the proxies of its four links reset them and refuse new ones for
4 s (shorter than cluster_route_grace: each side keeps the other's
routes and queues for it). Both sides keep serving their clients: six
persistent subscribers (3.1.1 clean session 0 and 5 with a session
expiry, QoS 2) reconnect to a random node every 2-6 s, n1 included,
and 1 s into the partition every one of them moves to another node
than the one it is on (to n1 or away from it, or between the other
two, which n1 does not hear of), while one publisher per node sends
QoS 1 and QoS 2 messages to random users (60 msg/s in all, for 8 s).
Then the links come back, every user
reconnects and drains its queue: every message a node acknowledged
(PUBACK, or PUBREC with reason < 0x80) has been delivered to its user,
and each QoS 2 one exactly once (test/lib/storeutil.py's conforming
receiver judges duplicates)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import log, main  # noqa: E402
from faultcluster import fault_round, move_all  # noqa: E402

VICTIM = 0          # n1


def fault(fc, tl, users):
    def cut():
        fc.partition(VICTIM)
        tl.add("partition", "%s cut off" % fc.names[VICTIM])
        log("%s cut off" % fc.names[VICTIM])

    def heal():
        fc.heal()
        tl.add("heal", fc.names[VICTIM])
        log("partition of %s healed" % fc.names[VICTIM])

    def move():
        move_all(users, tl)
        log("every user moves to another node")
    return [(2.0, cut), (3.0, move), (6.0, heal)]


def test():
    fault_round("cfpart", fault=fault, roam=4.0)


main(test)
