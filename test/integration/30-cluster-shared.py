#!/usr/bin/env python3
"""Cluster: a shared subscription is served by one member cluster-wide.
Members of $share/g/sh/# on n2 (two) and n3 (one), N QoS 1 messages
published on n1 (which has no member): every message reaches exactly one
member (the union of what they got is the N payloads, none twice) and
every member gets some. A second round adds a member on n1, the
publishing node: still one member per message, and the local member gets
some too. (30-cluster-shared-plain.py: the same with a plain subscriber
on a node with members.)"""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import main  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import Cluster, shared_round  # noqa: E402
from storeutil import Receiver  # noqa: E402

SHARE = "$share/g/sh/#"


def test():
    with Cluster(3) as cl:
        members = []
        for i, name in ((1, "n2-a"), (1, "n2-b"), (2, "n3-a")):
            r = Receiver(cl[i].port, "sh-%s" % name, version=raw.V5)
            r.connect(clean=True)
            r.subscribe([(SHARE, 1)])
            members.append(r)
        shared_round(cl[0].port, members, [], "sh/t/1", "r1")

        local = Receiver(cl[0].port, "sh-n1-a", version=raw.V311)
        local.connect(clean=True)
        local.subscribe([(SHARE, 1)])
        members.append(local)
        shared_round(cl[0].port, members, [], "sh/t/2", "r2")
        for r in members:
            r.disconnect()


main(test)
