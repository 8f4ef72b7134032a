#!/usr/bin/env python3
"""Durability: QoS 2 messages acknowledged (PUBREC) while persistent
subscribers (3.1.1 clean session 0, v5 clean start 0 with a session
expiry) are offline survive kill -9 of ternd: after the restart each
subscriber resumes with session present 1 and gets every one of them, in
order, none lost, each exactly once, before anything published later."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import main  # noqa: E402
from storeutil import crash_offline_subscribers  # noqa: E402

QOS = 2
N = 200          # per publisher; two publishers (3.1.1 and v5)


def test():
    crash_offline_subscribers(QOS, N)


main(test)
