#!/usr/bin/env python3
"""A subscriber's PUBREC whose "PUBREC received" write fails on a full
disk gets no PUBREL: the receiver would forget the message at PUBREL,
while the store still says the PUBLISH is owed, so a reconnect or a
restart would hand it out again as new. The connection is closed
instead (v5: DISCONNECT 0x80); after the reconnect the PUBLISH comes
again with DUP and the same packet id, which a conforming receiver
recognises, and the flow completes. Even across a kill -9 after the
disk is freed, each subscriber (3.1.1 and v5) gets the message exactly
once. The data dir is a tmpfs the test mounts and fills (root only)."""
import os
import socket
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from storeutil import *  # noqa: E402,F401,F403


def drain(sub, seconds):
    """Handle what comes for a while; returns the packets and whether the
    connection was closed."""
    got = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            p = sub.recv(max(0.01, deadline - time.monotonic()))
        except socket.timeout:
            break
        except raw.Closed:
            return got, True
        got.append(p)
        if p.type != raw.DISCONNECT:
            sub.handle(p)
    return got, False


def test():
    store_only()
    with small_disk_broker() as (b, disk):
        subs = {}
        for version in (V311, V5):
            sub = Receiver(b.port, "dr-sub-%d" % version, version=version)
            sub.connect(clean=False, expect_present=0)
            sub.subscribe([("dr/%d" % version, 2)])
            subs[version] = sub
        pub = Publisher(b.port, "dr-pub", version=V5)
        for version, sub in subs.items():
            msg = b"m-%d" % version
            check_eq(pub.publish_one("dr/%d" % version, msg, qos=2), 0,
                     "v%d: message acknowledged" % version)
            p = sub.recv(5.0)
            check(p.type == raw.PUBLISH and p.payload == msg,
                  "v%d: the PUBLISH, got %r" % (version, p))
            disk.fill()
            sub.handle(p)  # delivered to the app; PUBREC sent
            got, closed = drain(sub, 3.0)
            log("v%d after PUBREC on a full disk: %r, closed %r"
                % (version, got, closed))
            check(not any(x.type == raw.PUBREL for x in got),
                  "v%d: no PUBREL while PUBREC received is not stored: %r"
                  % (version, got))
            check(closed, "v%d: connection closed" % version)
            if version == V5:
                check(any(x.type == raw.DISCONNECT and x.reason == 0x80
                          for x in got), "v5: DISCONNECT 0x80: %r" % got)
            disk.free()
        pub.close()
        crash(b)
        for version, sub in subs.items():
            sub.port = b.port
            sub.connect(clean=False, expect_present=1)
            sub.run_until(lambda r: not r.awaiting_rel, 5.0,
                          "the PUBREL after the resend")
            sub.expect_quiet(0.3)
            check_eq(sub.payloads(), [b"m-%d" % version],
                     "v%d: messages delivered to the app" % version)
            log("v%d: duplicates recognised by the receiver: %d"
                % (version, len(sub.dups)))
            sub.end_session()


main(test)
