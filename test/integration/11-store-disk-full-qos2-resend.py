#!/usr/bin/env python3
"""A QoS 2 PUBLISH whose commit fails on a full disk is not acknowledged,
and its packet id is not kept: the publisher's resend is routed, not
taken for a duplicate. 3.1.1: the publisher is disconnected without a
PUBREC and resends the PUBLISH with DUP after reconnecting; v5: PUBREC
0x80, and the packet id is used again for another message (allowed after
a failure reason). Both resends are acknowledged once the disk has room,
and the offline persistent subscriber gets each acknowledged message
exactly once, and nothing that was refused. The data dir is a tmpfs the
test mounts and fills (root only)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from storeutil import *  # noqa: E402,F401,F403


def complete(p, mid, version, what):
    rec = p.expect_ack(raw.PUBREC, mid, timeout=5.0)
    check((rec.reason or 0) < 0x80, "%s: PUBREC reason %#x"
          % (what, rec.reason or 0))
    p.send(raw.pubrel(mid, version=version))
    p.expect_ack(raw.PUBCOMP, mid, timeout=5.0)


def test():
    store_only()
    with small_disk_broker() as (b, disk):
        sub = Receiver(b.port, "dq-sub", version=V5)
        sub.connect(clean=False, expect_present=0)
        sub.subscribe([("dq/t", 2)])
        sub.disconnect()
        want = []
        for version in (V311, V5):
            cid = "dq-pub-%d" % version
            first = b"first-%d" % version
            p = connect_persistent(b.port, cid, version)
            disk.fill()
            p.send(raw.publish("dq/t", first, qos=2, mid=1,
                               version=version))
            if version == V311:
                got = p.wait_closed(5.0)
                check(not any(x.type == raw.PUBREC for x in got),
                      "3.1.1: no PUBREC for a message not stored: %r" % got)
            else:
                rec = p.expect_ack(raw.PUBREC, 1, timeout=5.0)
                check_eq(rec.reason, 0x80, "v5: PUBREC reason on a full "
                         "disk")
            disk.free()
            if version == V311:
                # the required resend after the reconnect, with DUP
                p = connect_persistent(b.port, cid, version,
                                       expect_present=1)
                p.send(raw.publish("dq/t", first, qos=2, mid=1, dup=True,
                                   version=version))
                complete(p, 1, version, "3.1.1 resend")
                want.append(first)
            else:
                # packet id 1 is free again: another message takes it
                again = b"again-%d" % version
                p.send(raw.publish("dq/t", again, qos=2, mid=1,
                                   version=version))
                complete(p, 1, version, "v5 new message on id 1")
                want.append(again)
            p.disconnect()
        sub.connect(clean=False, expect_present=1)
        sub.run_until(lambda r: len(r.payloads()) >= len(want) and
                      not r.awaiting_rel, 5.0, "the acknowledged messages")
        sub.expect_quiet(0.3)
        check_in_order_once(sub.payloads(), want, "persistent subscriber")
        sub.end_session()


main(test)
