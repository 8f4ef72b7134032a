#!/usr/bin/env python3
"""Cluster under faults: users roam between nodes while messages flow.

Three nodes whose links all pass through fault proxies adding 20 ms each
way (test/lib/faultcluster.py). Six persistent subscribers (3.1.1 clean
session 0 and 5 with a session expiry, QoS 2) each reconnect to a random
node every 0.75-2.25 s, so their sessions move from node to node (claims,
session moves, merges) while one publisher per node sends QoS 1 and
QoS 2 messages to random users (60 msg/s in all, for 8 s). Then every
user reconnects and drains its queue: every message a node acknowledged
(PUBACK, or PUBREC with reason < 0x80) has been delivered to its user,
and each QoS 2 one exactly once (test/lib/storeutil.py's conforming
receiver, whose QoS 2 state outlives reconnects, judges duplicates)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import main  # noqa: E402
from faultcluster import fault_round  # noqa: E402


def test():
    fault_round("cfroam", latency=20, roam=1.5)


main(test)
