#!/usr/bin/env python3
"""MQTT 5 Receive Maximum of a client (CONNECT property): the server
never has more unacknowledged QoS 1/2 PUBLISHes out to it than that
[MQTT-3.3.4-9]. Receive Maximum 2, no acks: exactly 2 arrive; each
PUBACK/PUBREC lets the next one out, in order [MQTT-4.6.0-6]; a QoS 0
message is not held back by the window."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403

N = 6


def window_after_acks(c, first):
    # ack the first (QoS 1): exactly one more comes
    c.send(raw.puback(first[0].mid, version=V5))
    third = publishes(c, 1, what="after one PUBACK")[0]
    check_eq(third.payload, b"2", "third message in order")
    check(recv_or_none(c, 0.3) is None, "only one more after one ack "
          "[MQTT-3.3.4-9]")
    # PUBREC of the QoS 2 frees its slot too (the PUBREL flow follows)
    check_eq(first[1].qos, 2, "second message is QoS 2")
    c.send(raw.pubrec(first[1].mid, version=V5))
    got = []
    while not got:
        x = c.recv(3.0)
        if x.type == raw.PUBREL:
            c.send(raw.pubcomp(x.mid, version=V5))
            continue
        check_eq(x.type, raw.PUBLISH, "packet after PUBREC: %r" % x)
        got.append(x)
    check_eq(got[0].payload, b"3", "fourth message after the PUBREC")
    # from now on acknowledge everything: the rest arrives in order
    for m in (third, got[0]):
        c.ack(m)
    tail = [c.recv_publish(timeout=3.0) for _ in range(N - 4)]
    check_eq([m.payload for m in tail],
             [b"%d" % i for i in range(4, N)], "the rest, in order")


def test():
    with Broker() as b:
        c = raw.Client(b.port, version=V5)
        c.connect("rmo", properties={"receive_maximum": 2})
        c.subscribe([("rmo/q", 2), ("rmo/zero", 0)])
        p = raw.Client(b.port, version=V5)
        p.connect("rmo-pub")
        for i in range(N):
            p.publish("rmo/q", b"%d" % i, qos=1 + i % 2, mid=i + 1)

        first = publishes(c, 2, what="window of 2")
        check_eq([m.payload for m in first], [b"0", b"1"], "first two")
        check(recv_or_none(c, 0.5) is None, "a third PUBLISH while two "
              "are unacknowledged [MQTT-3.3.4-9]")
        # QoS 0 is not counted
        p.publish("rmo/zero", b"z", qos=0)
        z = c.expect(raw.PUBLISH, timeout=3.0, what="QoS 0 message")
        check_eq((z.topic, z.qos), ("rmo/zero", 0), "QoS 0 message passes")
        check(recv_or_none(c, 0.2) is None, "still no third QoS>0 message")

        if is_mosquitto():
            # mosquitto 2.0.11 lets two more out after one PUBACK (3 in
            # flight with Receive Maximum 2): the window accounting after
            # the first ack is checked against ternd only
            c.send(raw.puback(first[0].mid, version=V5))
            c.ack(first[1])
            tail = [c.recv_publish(timeout=3.0) for _ in range(N - 2)]
            check_eq([m.payload for m in tail],
                     [b"%d" % i for i in range(2, N)], "the rest, in order")
        else:
            window_after_acks(c, first)
        c.expect_none(0.2)
        p.disconnect()
        c.disconnect()


main(test)
