#!/usr/bin/env python3
"""max_publish_bytes_rate 1000: a v5 burst of 300-byte QoS 1 messages
gets PUBACK 0x96 once a second's worth of bytes is used; a message larger
than the burst passes when the bucket is full and leaves it in debt, so
the next one is refused; only accepted messages are delivered."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402

RATE = 1000
N = 10


def burst(c, msgs, first_mid):
    """Send all at once; the PUBACK reason of each, in order."""
    c.send(b"".join(raw.publish("b", p, qos=1, mid=first_mid + i,
                                version=V5) for i, p in enumerate(msgs)))
    return [c.expect_ack(raw.PUBACK, first_mid + i).reason
            for i in range(len(msgs))]


def test():
    tern_only("max_publish_bytes_rate")
    with Broker(conf=["max_publish_bytes_rate %d" % RATE]) as b:
        sub = raw.Client(b.port, version=V5)
        sub.connect("sub")
        sub.subscribe("b", qos=0)
        c = raw.Client(b.port, version=V5)
        c.connect("pub")
        msgs = [b"%d-" % i + b"x" * 300 for i in range(N)]
        codes = burst(c, msgs, 1)
        log("300-byte burst: %r" % codes)
        accepted = [m for m, rc in zip(msgs, codes) if rc < 0x80]
        check(all(rc in (0, 0x10, 0x96) for rc in codes),
              "success or 0x96 only: %r" % codes)
        # Three packets of ~310 bytes fit in 1000; a few more may have
        # refilled meanwhile, never all ten.
        check(3 <= len(accepted) <= 5, "accepted %d of %d"
              % (len(accepted), N))
        got = []
        while True:
            try:
                got.append(sub.recv(timeout=0.5).payload)
            except socket.timeout:
                break
        check_eq(got, accepted, "exactly the accepted messages delivered")

        # Larger than the burst: passes on a full bucket, then debt.
        time.sleep(1.2)
        codes = burst(c, [b"y" * 3000, b"z"], 100)
        log("large then small: %r" % codes)
        check(codes[0] < 0x80, "large message on a full bucket: %#x"
              % codes[0])
        check_eq(codes[1], 0x96, "next message while in debt")
        m = sub.recv(timeout=3.0)
        check_eq(len(m.payload), 3000, "large message delivered")
        sub.expect_none(0.3)
        c.disconnect()
        sub.disconnect()


main(test)
