#!/usr/bin/env python3
"""A publisher's PUBREL whose QoS 2 id removal fails on a full disk gets
no PUBCOMP: the store still holds the id, so after a restart the next
message that uses that packet id would be taken for the old one and
dropped. The connection is closed instead, the id is kept, and the
publisher resends PUBREL after reconnecting (4.4); once that is stored,
PUBCOMP. After a kill -9, a new QoS 2 message on the same packet id is
routed: the persistent subscriber gets every message once. Both
protocol versions; the data dir is a tmpfs the test mounts and fills
(root only)."""
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

MID = 5


def publish2(p, topic, payload, version, what):
    p.send(raw.publish(topic, payload, qos=2, mid=MID, version=version))
    rec = p.expect_ack(raw.PUBREC, MID, timeout=5.0)
    check((rec.reason or 0) < 0x80, "%s: PUBREC reason %#x"
          % (what, rec.reason or 0))


def test():
    store_only()
    with small_disk_broker() as (b, disk):
        sub = Receiver(b.port, "dc-sub", version=V5)
        sub.connect(clean=False, expect_present=0)
        sub.subscribe([("dc/t", 2)])
        sub.disconnect()
        want = []
        for version in (V311, V5):
            cid = "dc-pub-%d" % version
            p = connect_persistent(b.port, cid, version)
            publish2(p, "dc/t", b"x-%d" % version, version, "first")
            want.append(b"x-%d" % version)
            disk.fill()
            p.send(raw.pubrel(MID, version=version))
            got = p.wait_closed(3.0)
            log("v%d after PUBREL on a full disk: %r" % (version, got))
            check(not any(x.type == raw.PUBCOMP for x in got),
                  "v%d: no PUBCOMP while the id removal is not stored: %r"
                  % (version, got))
            disk.free()
            p = connect_persistent(b.port, cid, version, expect_present=1)
            p.send(raw.pubrel(MID, version=version))
            comp = p.expect_ack(raw.PUBCOMP, MID, timeout=5.0)
            check_eq(comp.reason or 0, 0, "v%d: PUBCOMP of the resent "
                     "PUBREL" % version)
            p.disconnect()
        crash(b)
        for version in (V311, V5):
            cid = "dc-pub-%d" % version
            p = connect_persistent(b.port, cid, version, expect_present=1)
            publish2(p, "dc/t", b"y-%d" % version, version,
                     "new message on the same id after the restart")
            p.send(raw.pubrel(MID, version=version))
            p.expect_ack(raw.PUBCOMP, MID, timeout=5.0)
            want.append(b"y-%d" % version)
            p.disconnect()
        sub.port = b.port
        sub.connect(clean=False, expect_present=1)
        sub.run_until(lambda r: len(r.payloads()) >= len(want) and
                      not r.awaiting_rel, 5.0, "every message")
        sub.expect_quiet(0.3)
        check_in_order_once(sub.payloads(), want, "persistent subscriber")
        sub.end_session()


main(test)
