#!/usr/bin/env python3
"""Cluster under faults: a node's links go half-open (nothing passes,
nothing closes), then recover.

Three nodes, every link through its own fault proxy, one per direction
(test/lib/faultcluster.py). 2 s in, the four links of n1 stall for 4 s:
the proxies forward nothing either way and close nothing (they hold the
bytes and deliver them when the stall ends; 4 s is well below the 15 s
after which a node drops a silent link, so the links stay up
throughout, and a claim does not wait for a node silent for 1.5 s). Six
persistent subscribers (3.1.1 clean session 0 and 5 with a session
expiry, QoS 2) reconnect to a random node every 2-6 s, n1 included,
and 1 s into the stall every one of them moves to another node than
the one it is on (so sessions move while n1 hears nothing of it), while
one publisher per node sends QoS 1 and QoS 2 messages to random users
(60 msg/s in all, for 8 s). Then every user reconnects and drains
its queue: every message a node acknowledged (PUBACK, or PUBREC with
reason < 0x80) has been delivered to its user, and each QoS 2 one
exactly once (test/lib/storeutil.py's conforming receiver judges
duplicates)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import log, main  # noqa: E402
from faultcluster import fault_round, move_all  # noqa: E402

VICTIM = 0          # n1


def fault(fc, tl, users):
    def stall():
        fc.stall(VICTIM)
        tl.add("stall", "%s links half-open" % fc.names[VICTIM])
        log("%s links half-open" % fc.names[VICTIM])

    def heal():
        fc.heal()
        tl.add("heal", fc.names[VICTIM])
        log("links of %s flow again" % fc.names[VICTIM])

    def move():
        move_all(users, tl)
        log("every user moves to another node")
    return [(2.0, stall), (3.0, move), (6.0, heal)]


def test():
    fault_round("cfstall", fault=fault, roam=4.0)


main(test)
