#!/usr/bin/env python3
"""max_publish_rate 20: a v5 client that floods QoS 1 messages gets PUBACK
0x96 for what is over the rate, and only what was accepted is delivered,
while another client publishing at a normal pace at the same time loses
nothing. A 3.1.1 client flooding QoS 0 is slowed down, not dropped: every
message arrives, in order."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

RATE = 20
BURSTS = 4
PER_BURST = 50
CALM = 10


def drain(sub, want, what):
    """Read PUBLISHes at sub until want() holds or 5 s pass, then make
    sure nothing more comes. Returns topic -> list of payloads."""
    got = {}
    deadline = time.monotonic() + 5.0
    while not want(got) and time.monotonic() < deadline:
        try:
            p = sub.recv(timeout=max(0.05, deadline - time.monotonic()))
        except socket.timeout:
            break
        check_eq(p.type, raw.PUBLISH, "packet at the subscriber")
        got.setdefault(p.topic, []).append(p.payload)
    while True:
        try:
            p = sub.recv(timeout=0.5)
        except socket.timeout:
            break
        got.setdefault(p.topic, []).append(p.payload)
    log("%s: %s" % (what, {k: len(v) for k, v in got.items()}))
    return got


def test():
    tern_only("max_publish_rate")
    with Broker(conf=["max_publish_rate %d" % RATE]) as b:
        sub = raw.Client(b.port, version=V5)
        sub.connect("sub")
        sub.subscribe([("flood", 0), ("calm", 0), ("q0", 0)])

        calm_acks = []

        def calm():
            c = raw.Client(b.port, version=V5)
            c.connect("calm")
            for i in range(CALM):
                p = c.publish("calm", b"c%d" % i, qos=1, mid=i + 1)
                calm_acks.append(p.reason)
                time.sleep(0.1)
            c.disconnect()
        t = threading.Thread(target=calm)
        t.start()

        f = raw.Client(b.port, version=V5)
        f.connect("flooder")
        codes = {}
        mid = 0
        t0 = time.monotonic()
        for burst in range(BURSTS):
            data = b""
            for i in range(PER_BURST):
                mid += 1
                data += raw.publish("flood", b"f%d" % mid, qos=1, mid=mid,
                                    version=V5)
            f.send(data)
            for i in range(PER_BURST):
                p = f.expect(raw.PUBACK, what="flooder PUBACK")
                codes[p.mid] = p.reason
            time.sleep(0.25)
        elapsed = time.monotonic() - t0
        t.join(10)
        check(not t.is_alive(), "calm publisher finished")
        accepted = sorted(m for m, rc in codes.items() if rc < 0x80)
        refused = [m for m, rc in codes.items() if rc == 0x96]
        log("flooder: %d accepted, %d refused with 0x96"
            % (len(accepted), len(refused)))
        check_eq(len(codes), BURSTS * PER_BURST, "a PUBACK per message")
        check_eq(len(accepted) + len(refused), len(codes),
                 "only success or 0x96")
        check(len(accepted) >= RATE, "the burst allowance was accepted")
        # The burst plus what refilled while the flood went on.
        check(len(accepted) <= RATE + RATE * elapsed + 2,
              "too many accepted: %d in %.2fs" % (len(accepted), elapsed))
        check_eq(calm_acks, [0] * CALM, "calm publisher's PUBACKs")

        got = drain(sub, lambda g: len(g.get("flood", [])) >= len(accepted)
                    and len(g.get("calm", [])) >= CALM, "subscriber")
        check_eq(got.get("calm", []), [b"c%d" % i for i in range(CALM)],
                 "calm messages, all and in order")
        check_eq(got.get("flood", []), [b"f%d" % m for m in accepted],
                 "exactly the accepted flood messages")
        b.wait_log("refused with 0x96")
        f.ping()

        # 3.1.1, QoS 0: held back in the socket, none lost.
        q = raw.Client(b.port, version=V311)
        q.connect("q0")
        n = RATE * 3
        q.send(b"".join(raw.publish("q0", b"%d" % i) for i in range(n)))
        got = drain(sub, lambda g: len(g.get("q0", [])) >= n, "QoS 0")
        check_eq(got.get("q0", []), [b"%d" % i for i in range(n)],
                 "every QoS 0 message, in order")
        b.wait_log("PUBLISHes delayed")
        q.ping()
        for c in (q, f, sub):
            c.disconnect()


main(test)
