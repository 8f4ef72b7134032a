#!/usr/bin/env python3
"""Packets cut anywhere between reads, and many packets in one read, are
all handled, in order: the plain TCP transport (broker/sock.c) parses a
read in place and keeps only an incomplete tail, which the next read
completes.

- a CONNECT sent one byte at a time;
- 300 QoS 1 PUBLISHes in one send: 300 PUBACKs in order, and the
  subscriber gets all 300 in order;
- the same stream sent in pieces of 7 bytes, so that every packet
  straddles reads, fixed headers included;
- a PUBLISH of 100 kB (more than the 64 KiB read buffer) whose first half
  comes with 50 small packets before it, then a PINGREQ behind it."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402,F401
import time  # noqa: E402

N = 300


def stream(version, first):
    return b"".join(raw.publish("fr/t", b"m%d" % i, qos=1, mid=first + i,
                                version=version) for i in range(N))


def expect_acks(p, first, n):
    for i in range(n):
        p.expect_ack(raw.PUBACK, first + i)


def expect_msgs(s, first, n):
    for i in range(n):
        m = s.recv_publish(timeout=10.0)
        check_eq(m.payload, b"m%d" % (first + i), "message %d" % i)


def test():
    with Broker() as b:
        for v in (V311, V5):
            s = raw.Client(b.port, version=v)
            s.connect("fr-sub-%d" % v)
            s.subscribe("fr/t", qos=1)
            p = raw.Client(b.port, version=v)
            pkt = raw.connect("fr-pub-%d" % v, version=v)
            for i in range(len(pkt)):
                p.send(pkt[i:i + 1])
                time.sleep(0.002)
            p.expect(raw.CONNACK, what="CONNACK after a byte at a time")
            # Many packets in one read.
            p.send(stream(v, 1))
            expect_acks(p, 1, N)
            expect_msgs(s, 0, N)
            # Every packet across reads.
            data = stream(v, 1001)
            for i in range(0, len(data), 7):
                p.send(data[i:i + 7])
                if i % 700 == 0:
                    time.sleep(0.001)
            expect_acks(p, 1001, N)
            expect_msgs(s, 0, N)
            # A packet larger than the read buffer behind small ones.
            big = bytes(range(256)) * 400
            data = b"".join(raw.publish("fr/t", b"m%d" % i, qos=1,
                                        mid=2001 + i, version=v)
                            for i in range(50))
            data += raw.publish("fr/t", big, qos=1, mid=3000, version=v)
            data += raw.pingreq()
            half = len(data) // 2
            p.send(data[:half])
            time.sleep(0.05)
            p.send(data[half:])
            expect_acks(p, 2001, 50)
            p.expect_ack(raw.PUBACK, 3000)
            p.expect(raw.PINGRESP, what="PINGRESP behind the large one")
            expect_msgs(s, 0, 50)
            m = s.recv_publish(timeout=10.0)
            check(m.payload == big, "large payload intact")
            p.disconnect()
            s.disconnect()


main(test)
