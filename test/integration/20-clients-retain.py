#!/usr/bin/env python3
"""tern-pub -r stores a retained message that a later tern-sub receives
with the retain flag set (MQTT 3.1.1 and 5); tern-sub -R does not print
it; tern-pub -r -n clears it, so a new subscriber gets nothing (-W: 27)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import Broker, check, check_eq, main  # noqa: E402
from clients import TernSub, tern_pub  # noqa: E402


def sub_once(port, topic, version, args):
    with TernSub(port, topic, version=version, qos=1, args=args) as s:
        rc = s.finish()
        return rc, s.lines(), s.err()


def test():
    with Broker() as b:
        for version in (4, 5):
            t = "ret/v%d" % version
            tern_pub(b.port, ["-t", t, "-q", "1", "-r", "-m", "kept"],
                     version=version)
            rc, lines, _ = sub_once(b.port, t, version,
                                    ["-C", "1", "-W", "10", "-F", "%r %p"])
            check_eq((rc, lines), (0, ["1 kept"]),
                     "retained message (v%d)" % version)

            rc, lines, err = sub_once(b.port, t, version, ["-R", "-W", "1"])
            check_eq((rc, lines), (27, []), "-R skips retained (v%d)"
                     % version)
            check("received PUBLISH" in err, "-R: the retained message "
                  "did arrive (v%d): %s" % (version, err))

            tern_pub(b.port, ["-t", t, "-q", "1", "-r", "-n"],
                     version=version)
            rc, lines, err = sub_once(b.port, t, version, ["-W", "1"])
            check_eq((rc, lines), (27, []), "cleared (v%d)" % version)
            check("received PUBLISH" not in err, "nothing arrives after "
                  "the clear (v%d): %s" % (version, err))


main(test)
