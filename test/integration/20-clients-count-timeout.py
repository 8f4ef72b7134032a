#!/usr/bin/env python3
"""tern-sub -C, -W and -E and their exit statuses (MQTT 3.1.1 and 5):
-C N prints exactly N messages and exits 0 even when more arrive; -W
exits 27 with "timed out" when fewer came (with the ones that did come
printed); -E exits 0 right after the SUBACK."""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import Broker, check, check_eq, main  # noqa: E402
from clients import TernSub, tern_pub  # noqa: E402


def test():
    with Broker() as b:
        for version in (4, 5):
            t = "cnt/v%d" % version
            # -C 3 with 5 published
            with TernSub(b.port, t, version=version, qos=1,
                         args=["-C", "3", "-W", "20"]) as s:
                s.wait_ready()
                tern_pub(b.port, ["-t", t, "-q", "1", "-l"],
                         version=version, input="1\n2\n3\n4\n5\n")
                check_eq(s.finish(), 0, "-C exit status")
                check_eq(s.lines(), ["1", "2", "3"], "-C 3 output")

            # -W 2 with -C 3 and only 2 messages: 27, both printed
            start = time.monotonic()
            with TernSub(b.port, t, version=version, qos=1,
                         args=["-C", "3", "-W", "2"]) as s:
                s.wait_ready()
                tern_pub(b.port, ["-t", t, "-q", "1", "-l"],
                         version=version, input="a\nb\n")
                check_eq(s.finish(), 27, "-W exit status")
                check_eq(s.lines(), ["a", "b"], "-W output")
                check("timed out after 2 s (2 messages)" in s.err(),
                      "-W message: %r" % s.err())
            check(time.monotonic() - start < 10, "-W 2 took too long")

            # -E
            with TernSub(b.port, t, version=version,
                         args=["-E"]) as s:
                check_eq(s.finish(timeout=10), 0, "-E exit status")
                check("received SUBACK" in s.err(), "-E after SUBACK")
                check_eq(s.lines(), [], "-E output")


main(test)
