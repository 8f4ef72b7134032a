#!/usr/bin/env python3
"""In a cluster, a message refused because its commit failed (a full
disk on n1) and the publisher's resend are one message, and the resend
reaches everyone: subscribers on n1 at QoS 2 (whose copy of the refused
message was held, then dropped) and at QoS 1, and a subscriber on n2,
each get it exactly once. The resend keeps the refused message's cluster
identity (so n2 recognises a copy it had); on n1 the sessions are judged
by whom the refused message was sent to, not by that identity (which
every local session had noted: before, the resend was taken for a copy
they had, and lost). The data dir of n1 is a tmpfs the test mounts and
fills (root only)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from cluster import Cluster  # noqa: E402
from storeutil import *  # noqa: E402,F401,F403


def test():
    store_only()
    c = Cluster(2, start=False)
    with small_disk(c.nodes, c[0]) as disk:
        c.start()
        run_test(c, disk)


def run_test(c, disk):
    n1, n2 = c[0], c[1]
    q2 = Receiver(n1.port, "rr-q2", version=V5)
    q2.connect(clean=False, expect_present=0)
    q2.subscribe([("rr/t", 2)])
    q1 = Receiver(n1.port, "rr-q1", version=V311)
    q1.connect(clean=False, expect_present=0)
    q1.subscribe([("rr/t", 1)])
    far = Receiver(n2.port, "rr-far", version=V5)
    far.connect(clean=False, expect_present=0)
    far.subscribe([("rr/t", 2)])
    subs = (q2, q1, far)
    want = []
    for qos in (2, 1):
        msg = b"refused then resent, QoS %d" % qos
        ack = raw.PUBREC if qos == 2 else raw.PUBACK
        p = connect_persistent(n1.port, "rr-pub-%d" % qos, V5)
        disk.fill()
        p.send(raw.publish("rr/t", msg, qos=qos, mid=1, version=V5))
        rec = p.expect_ack(ack, 1, timeout=5.0)
        check_eq(rec.reason, 0x80, "QoS %d: ack on a full disk" % qos)
        disk.free()
        p.send(raw.publish("rr/t", msg, qos=qos, mid=2, version=V5))
        rec = p.expect_ack(ack, 2, timeout=5.0)
        check((rec.reason or 0) < 0x80, "QoS %d: the resend is taken "
              "(reason %#x)" % (qos, rec.reason or 0))
        if qos == 2:
            p.send(raw.pubrel(2, version=V5))
            p.expect_ack(raw.PUBCOMP, 2, timeout=5.0)
        p.disconnect()
        want.append(msg)
        for r in subs:
            r.run_until(lambda r: len(r.payloads()) >= len(want) and
                        not r.awaiting_rel, 10.0,
                        "%s: the messages" % r.client_id)
    for r in subs:
        r.expect_quiet(0.5)
        check_in_order_once(r.payloads(), want, r.client_id)
        r.end_session()


main(test)
