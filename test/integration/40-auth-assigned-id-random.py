#!/usr/bin/env python3
"""Server-assigned client ids cannot be guessed: 50 v5 clients with an
empty client id get "tern-" and 32 hex digits (128 random bits) each, all
different, and no two ids are neighbours (an id that counted up let
someone compute the next client's id and resume its session, with what
was queued for it). mosquitto assigns "auto-" and a random UUID."""
import os
import re
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

N = 50


def test():
    tern_only("the form of tern's assigned ids")
    with Broker() as b:
        ids = []
        for _ in range(N):
            c = raw.Client(b.port, version=V5)
            ack = c.connect("", clean=True)
            ids.append(ack.props.get("assigned_client_identifier"))
            c.disconnect()
        log("first ids: %r" % ids[:3])
        for aid in ids:
            check(aid is not None and
                  re.fullmatch(r"tern-[0-9a-f]{32}", aid) is not None,
                  "an assigned id is tern- and 32 hex digits: %r" % aid)
        check_eq(len(set(ids)), N, "distinct assigned ids")
        nums = sorted(int(aid[5:], 16) for aid in ids)
        gaps = [y - x for x, y in zip(nums, nums[1:])]
        check(min(gaps) > 1 << 64, "no two assigned ids are close (the "
              "smallest gap is %d)" % min(gaps))


main(test)
