#!/usr/bin/env python3
"""Review: any client can make another node parse a forged
"$cluster/session", and a QoS 2 id count of 2^31 reads far past the
payload (session_in: "(size_t)(end - q) < 2u * n" wraps to 0 in 32 bits).

A client on n1 publishes a retained QoS 1 message on "$cluster/session"
(retained messages go to every node). n2 gets it on n1's link, where
bridge_dispatch takes every "$cluster/" topic for a control message of
the node n1: session_in creates session "forged" and then walks 2^31
packet ids from a 1-byte remainder.

Expected: n2 is still up and the client message is an ordinary message
(no session "forged" on n2); with the bug n2 dies with an out-of-bounds
read (ASan) or SEGV."""
import os
import struct
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, log, main, wait_for  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import Cluster  # noqa: E402


def test():
    with Cluster(2) as cl:
        s = raw.Client(cl[1].port, version=raw.V5)
        s.connect("forge-check")
        s.subscribe([("forge/after", 1)])
        payload = (struct.pack("!QIQQI", 1, 300, 1, 0, 0) +
                   struct.pack("!I", 0x80000000) + b"forged")
        p = raw.Client(cl[0].port, version=raw.V5)
        p.connect("forger")
        p.send(raw.publish("$cluster/session", payload, qos=1, retain=True,
                           mid=1, version=raw.V5))
        check_eq(p.expect(raw.DISCONNECT).reason, 0x90,
                 "a client's $cluster/session is refused")
        p.close()
        p = raw.Client(cl[0].port, version=raw.V5)
        p.connect("forger2")
        p.publish("forge/after", b"after", qos=1, mid=2)
        got = []

        def done():
            if not cl[1].alive():
                return True
            try:
                got.append(s.recv_publish(timeout=0.2))
            except (AssertionError, OSError):
                pass
            return bool(got)
        wait_for(done, 15.0, "n2 got the message after the forged one, "
                 "or died")
        log2 = cl[1].log()
        check(cl[1].alive(), "n2 died after a client on n1 published on "
              "$cluster/session (see the AddressSanitizer report in its "
              "log)")
        check("session forged moving here" not in log2,
              "n2 created a session from a client's $cluster/session")
        p.disconnect()
        s.disconnect()


main(test)
