#!/usr/bin/env python3
"""A QoS 1 or QoS 2 message refused because its commit failed (a full
disk) and the publisher's resend are one message: online subscribers (a
clean v5 session and a persistent 3.1.1 one at QoS 2, a v5 one at QoS 0)
and an offline persistent one each get it exactly once. The v5 publisher
is answered 0x80 and publishes again with another packet id; the 3.1.1
publisher is disconnected and resends with DUP after reconnecting. The
data dir is a tmpfs the test mounts and fills (root only)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from storeutil import *  # noqa: E402,F401,F403


def complete(p, mid, version, qos):
    ack = p.expect_ack(raw.PUBREC if qos == 2 else raw.PUBACK, mid,
                       timeout=5.0)
    check((ack.reason or 0) < 0x80, "ack reason %#x" % (ack.reason or 0))
    if qos == 2:
        p.send(raw.pubrel(mid, version=version))
        p.expect_ack(raw.PUBCOMP, mid, timeout=5.0)


def test():
    store_only()
    with small_disk_broker() as (b, disk):
        off = Receiver(b.port, "rq-off", version=V5)
        off.connect(clean=False, expect_present=0)
        off.subscribe([("rq/t", 2)])
        off.disconnect()
        clean = Receiver(b.port, "rq-clean", version=V5, expiry=0)
        clean.connect(clean=True)
        clean.subscribe([("rq/t", 2)])
        pers = Receiver(b.port, "rq-pers", version=V311)
        pers.connect(clean=False, expect_present=0)
        pers.subscribe([("rq/t", 2)])
        q0 = Receiver(b.port, "rq-q0", version=V5, expiry=0)
        q0.connect(clean=True)
        q0.subscribe([("rq/t", 0)])
        online = (clean, pers, q0)
        want = []
        for version, qos in ((V5, 1), (V311, 1), (V5, 2), (V311, 2)):
            msg = b"r-%d-q%d" % (version, qos)
            cid = "rq-pub-%d" % version
            ack = raw.PUBREC if qos == 2 else raw.PUBACK
            p = connect_persistent(b.port, cid, version)
            disk.fill()
            p.send(raw.publish("rq/t", msg, qos=qos, mid=1,
                               version=version))
            if version == V5:
                rec = p.expect_ack(ack, 1, timeout=5.0)
                check_eq(rec.reason, 0x80, "v5 QoS %d: ack on a full disk"
                         % qos)
            else:
                got = p.wait_closed(5.0)
                check(not any(x.type == ack for x in got),
                      "3.1.1 QoS %d: no ack on a full disk: %r" % (qos, got))
            disk.free()
            if version == V5:
                p.send(raw.publish("rq/t", msg, qos=qos, mid=2,
                                   version=version))
                complete(p, 2, version, qos)
            else:
                p = connect_persistent(b.port, cid, version,
                                       expect_present=1)
                p.send(raw.publish("rq/t", msg, qos=qos, mid=1, dup=True,
                                   version=version))
                complete(p, 1, version, qos)
            p.disconnect()
            want.append(msg)
            for r in online:
                r.run_until(lambda r: len(r.payloads()) >= len(want) and
                            not r.awaiting_rel, 5.0, "the messages")
        for r in online:
            r.expect_quiet(0.3)
            check_in_order_once(r.payloads(), want, "online subscriber %s"
                                % r.client_id)
        off.connect(clean=False, expect_present=1)
        off.run_until(lambda r: len(r.payloads()) >= len(want) and
                      not r.awaiting_rel, 5.0, "the messages")
        off.expect_quiet(0.3)
        check_in_order_once(off.payloads(), want, "offline subscriber")
        for r in (off, pers):
            r.end_session()
        clean.disconnect()
        q0.disconnect()


main(test)
