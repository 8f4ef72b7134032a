#!/usr/bin/env python3
"""Review: a session moving to another node loses an unacknowledged QoS 1
message that is older than a QoS 2 message past PUBREC.

The client on n1 gets "one" (QoS 1, seq 1) and "two" (QoS 2, seq 2). It
answers PUBREC for "two" (and gets the PUBREL) but has not sent the PUBACK
of "one" yet -- acks of different QoS flows need not be in order -- and
goes away. Offline, the session's deliveries are only rows; when the
client connects to n2, n1 reads them back: "two" (PUBREC received) goes
to the in-flight list, "one" to the queue. bridge_move_pump moves the
in-flight list first, so n2 gets seq 2 before seq 1, and
bridge_deliver_target drops seq 1 as "had it already" (seq <= moved_seq).
n1 deleted its row when it moved it: "one" is gone, though it was never
acknowledged.

Expected on n2: the PUBREL of "two" and "one" again (DUP)."""
import os
import socket
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, log, main, wait_for  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import Cluster  # noqa: E402

PROPS = {"session_expiry_interval": 300}


def test():
    with Cluster(2) as cl:
        r = raw.Client(cl[0].port, version=raw.V5)
        r.connect("mover", clean=False, properties=PROPS)
        r.subscribe([("mv/q1", 1), ("mv/q2", 2)])
        p = raw.Client(cl[0].port, version=raw.V5)
        p.connect("mv-pub")
        p.publish("mv/q1", b"one", qos=1, mid=1)
        p.publish("mv/q2", b"two", qos=2, mid=2)

        one = r.expect(raw.PUBLISH, 5.0, "first PUBLISH")
        check_eq((one.payload, one.qos), (b"one", 1), "first PUBLISH")
        two = r.expect(raw.PUBLISH, 5.0, "second PUBLISH")
        check_eq((two.payload, two.qos), (b"two", 2), "second PUBLISH")
        r.send(raw.pubrec(two.mid, version=raw.V5))
        r.expect_ack(raw.PUBREL, two.mid, 5.0)
        # no PUBACK for "one", no PUBCOMP for "two"
        r.abort()
        wait_for(lambda: "mover" in cl[0].log() and
                 "closing mover" in cl[0].log(), 5.0, "n1 saw the close")

        r2 = raw.Client(cl[1].port, version=raw.V5)
        ack = r2.connect("mover", clean=False, properties=PROPS)
        check_eq(ack.session_present, 1, "session present on n2")
        got = []
        while True:
            try:
                q = r2.recv(3.0)
            except socket.timeout:
                break
            got.append(q)
            if q.type == raw.PUBLISH:
                r2.send(raw.puback(q.mid, version=raw.V5))
            elif q.type == raw.PUBREL:
                r2.send(raw.pubcomp(q.mid, version=raw.V5))
        log("on n2: %r" % got)
        rels = [q.mid for q in got if q.type == raw.PUBREL]
        pubs = [(q.payload, q.mid, q.dup) for q in got
                if q.type == raw.PUBLISH]
        check_eq(rels, [two.mid], "PUBREL of 'two' on n2")
        check_eq(pubs, [(b"one", one.mid, 1)],
                 "the unacknowledged QoS 1 message 'one' again on n2 "
                 "(lost in the move when empty)")
        r2.disconnect()
        p.disconnect()


main(test)
