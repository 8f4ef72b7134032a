#!/usr/bin/env python3
"""max_subscriptions_per_client is bounded by default (1000; the key is
not set here). A v5 client's 1000 filters are granted, a new one past
them gets 0x97 while a filter it holds may be subscribed again (and does
not count twice), and the subscriptions it has keep delivering; a 3.1.1
client gets 0x80. One SUBSCRIBE of 1 MiB with some 95,000 short filters
gets its first 1000 granted and the rest 0x97, and the node's VmRSS
grows by a few MiB at most (without the bound the filters cost it some
32 MiB, 53 MiB under ASan). With max_subscriptions_per_client 5000,
5000 filters are granted and the next one is refused."""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402

DEFAULT = 1000
RAISED = 5000
QUOTA = 0x97
MiB = 1024 * 1024
# VmRSS growth allowed for the big SUBSCRIBE: the packet itself (1 MiB,
# twice while it is made contiguous), its SUBACK and the per-filter work
# arrays, kept a while in ASan's quarantine.
RSS_LIMIT = 16 * MiB


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise HarnessError("no VmRSS for %d" % pid)


def filters(prefix, first, n):
    return [("%s/%06d" % (prefix, i), 0) for i in range(first, first + n)]


def big_subscribe(b):
    """One SUBSCRIBE as close to max_packet_size (1 MiB) as short
    filters make it."""
    c = raw.Client(b.port, version=V5, timeout=120)
    c.connect("big")
    n = (1048576 - 16) // len(raw.mstr("b/000000") + b"\0")
    # built at once: raw.subscribe() appends filter by filter
    pkt = raw.packet(raw.SUBSCRIBE, 2, raw.u16(1) + raw.props(None) +
                     b"".join(raw.mstr(f) + b"\0"
                              for f, _ in filters("b", 0, n)))
    check(len(pkt) <= 1048576, "SUBSCRIBE of %d bytes" % len(pkt))
    c.ping()
    before = rss(b.pid)
    t0 = time.monotonic()
    c.send(pkt)
    ack = c.expect_ack(raw.SUBACK, 1, timeout=120)
    c.ping()
    after = rss(b.pid)
    log("SUBSCRIBE of %d filters (%d bytes) in %.1f s: VmRSS %.1f -> "
        "%.1f MiB" % (n, len(pkt), time.monotonic() - t0, before / MiB,
                      after / MiB))
    check_eq(ack.codes[:DEFAULT], [0] * DEFAULT, "the first 1000 granted")
    check_eq(ack.codes[DEFAULT:], [QUOTA] * (n - DEFAULT),
             "the rest refused with 0x97")
    check(after - before < RSS_LIMIT, "VmRSS grew by %.1f MiB (limit %d)"
          % ((after - before) / MiB, RSS_LIMIT // MiB))
    c.disconnect()


def default_node():
    with Broker() as b:
        c = raw.Client(b.port, version=V5, timeout=30)
        c.connect("v5")
        a = c.subscribe(filters("s", 0, DEFAULT), mid=1)
        check_eq(a.codes, [0] * DEFAULT, "1000 filters granted")
        a = c.subscribe([("s/000000", 1), ("s/new", 0), ("s/000999", 1)],
                        mid=2)
        check_eq(a.codes, [1, QUOTA, 1],
                 "held filters replaced, a new one refused")
        pub = raw.Client(b.port, version=V5)
        pub.connect("pub")
        pub.publish("s/new", b"not subscribed", qos=1)
        pub.publish("s/000999", b"kept", qos=1)
        m = c.recv_publish()
        check_eq((m.topic, m.payload), ("s/000999", b"kept"),
                 "the held subscriptions still deliver")
        c.expect_none(0.3)

        o = raw.Client(b.port, version=V311, timeout=30)
        o.connect("v311")
        a = o.subscribe(filters("t", 0, DEFAULT + 1), mid=1)
        check_eq(a.codes, [0] * DEFAULT + [0x80], "3.1.1: 0x80 past 1000")
        for x in (c, pub, o):
            x.disconnect()
        big_subscribe(b)


def raised_node():
    with Broker(conf=["max_subscriptions_per_client %d" % RAISED]) as b:
        c = raw.Client(b.port, version=V5, timeout=30)
        c.connect("v5")
        a = c.subscribe(filters("s", 0, RAISED + 1), mid=1)
        check_eq(a.codes, [0] * RAISED + [QUOTA],
                 "5000 granted, the next refused")
        c.disconnect()


def test():
    tern_only("max_subscriptions_per_client")
    default_node()
    raised_node()


main(test)
