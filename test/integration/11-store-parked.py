#!/usr/bin/env python3
"""Parked sessions (offline_queue_cache): a persistent session that goes
offline with a short queue keeps it in memory, so its resume reads
nothing from the store, and the promise holds as before:

1. A 5.0 subscriber at QoS 2 leaves with one message at PUBREC (its
   PUBREL received, no PUBCOMP) and one unacknowledged; two more come
   while it is away. It is parked (tern_offline_sessions_parked 1), and
   its resume gets the PUBREL, the unacknowledged PUBLISH again (DUP,
   same packet id) and the two new ones, in order, with no queue read
   (tern_store_read_seconds_count unchanged).
2. Past the cache (12 messages for a cache of 8) the queue leaves memory:
   the resume reads it back, and every message comes once, in order.
3. kill -9 while parked: the messages are in the store, and come after
   the restart.
4. offline_queue_cache_sessions 2: of three sessions parked in turn, the
   first is evicted (its resume reads), the other two are not.
"""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402
import metricsutil as mu  # noqa: E402
from storeutil import *  # noqa: E402,F401,F403


def m(b, name):
    return int(mu.scrape(b.http_port).get(name))


def reads(b):
    return m(b, "tern_store_read_seconds_count")


def parked(b):
    return m(b, "tern_offline_sessions_parked")


def wait_parked(b, n):
    deadline = time.monotonic() + 5
    while parked(b) != n:
        check(time.monotonic() < deadline, "parked sessions: %d, want %d"
              % (parked(b), n))
        time.sleep(0.05)


def part1(b):
    r = Receiver(b.port, "pk-q2", version=V5)
    r.connect(clean=False, expect_present=0)
    r.subscribe([("pk/q2", 2)])
    pub = Publisher(b.port, "pk-pub", version=V5)
    pub.publish_acked("pk/q2", [b"done", b"released", b"unacked"], qos=2)
    got = {}
    while len(got) < 3:
        p = r.recv()
        check(p.type == raw.PUBLISH, "PUBLISH (got %r)" % p)
        got[p.payload] = p
    r.handle(got[b"done"])
    r.handle(got[b"released"])
    rels = []
    while len(rels) < 2:
        p = r.recv()
        check(p.type == raw.PUBREL, "PUBREL (got %r)" % p)
        rels.append(p)
    for p in rels:
        r.handle(p, ack=p.mid == got[b"done"].mid)
    # PUBCOMP of "done" is read once a PINGRESP comes after it
    r.c.send(raw.pingreq())
    check_eq(r.recv().type, raw.PINGRESP, "PINGRESP")
    r.abort()
    wait_parked(b, 1)
    r0 = reads(b)
    pub.publish_acked("pk/q2", [b"new-1", b"new-2"], qos=2)
    check_eq(parked(b), 1, "still parked with 4 messages")
    start = len(r.packets)
    r.connect(clean=False, expect_present=1)
    r.run_until(lambda x: b"new-2" in x.payloads() and not x.awaiting_rel,
                5.0, "the messages")
    after = r.packets[start:]
    first = after[0]
    check_eq((first.type, first.mid), (raw.PUBREL, got[b"released"].mid),
             "first the PUBREL of the released message")
    again = [p for p in after if p.type == raw.PUBLISH and
             p.payload == b"unacked"]
    check(len(again) == 1 and again[0].dup and
          again[0].mid == got[b"unacked"].mid,
          "the unacknowledged PUBLISH again with DUP and its packet id: %r"
          % again)
    check_in_order_once(r.payloads(), [b"done", b"released", b"unacked",
                                       b"new-1", b"new-2"],
                        "deliveries to the application")
    check_eq(reads(b), r0, "queue reads for the resume of a parked session")
    check_eq(parked(b), 0, "parked after the resume")
    r.expect_quiet(0.3)
    r.end_session()
    pub.close()


def part2(b):
    r = Receiver(b.port, "pk-big", version=V311)
    r.connect(clean=False, expect_present=0)
    r.subscribe([("pk/big", 1)])
    r.disconnect()
    wait_parked(b, 1)
    pub = Publisher(b.port, "pk-pub2")
    want = payloads("big", 12)
    pub.publish_acked("pk/big", want, qos=1)
    check_eq(parked(b), 0, "evicted past the cache")
    r0 = reads(b)
    r.connect(clean=False, expect_present=1)
    check_in_order_once([d[1] for d in r.receive_n(12)], want, "pk-big")
    check(reads(b) > r0, "the resume read the queue back")
    r.expect_quiet(0.3)
    r.end_session()
    pub.close()


def part3(b):
    r = Receiver(b.port, "pk-crash", version=V5)
    r.connect(clean=False, expect_present=0)
    r.subscribe([("pk/crash", 1)])
    r.disconnect()
    wait_parked(b, 1)
    pub = Publisher(b.port, "pk-pub3")
    want = payloads("c", 3)
    pub.publish_acked("pk/crash", want, qos=1)
    pub.close()
    crash(b)
    r.connect(clean=False, expect_present=1)
    check_in_order_once([d[1] for d in r.receive_n(3)], want,
                        "parked messages after kill -9")
    r.expect_quiet(0.3)
    r.end_session()


def part4():
    with Broker(conf=list(mu.conf()) + ["offline_queue_cache_sessions 2"],
                name="cap") as b:
        rs = []
        for i in range(3):
            r = Receiver(b.port, "pk-cap-%d" % i, version=V5)
            r.connect(clean=False, expect_present=0)
            r.subscribe([("pk/cap", 1)])
            r.disconnect()
            rs.append(r)
            wait_parked(b, min(i + 1, 2))
        pub = Publisher(b.port, "pk-pub4")
        pub.publish_acked("pk/cap", [b"x"], qos=1)
        pub.close()
        for i, r in enumerate(rs):
            r0 = reads(b)
            r.connect(clean=False, expect_present=1)
            check_eq([d[1] for d in r.receive_n(1)], [b"x"], r.client_id)
            if i == 0:
                check(reads(b) > r0, "the session parked longest was "
                      "evicted: its resume reads")
            else:
                check_eq(reads(b), r0, "%s resumes from memory"
                         % r.client_id)
        # (ended only now: one going offline again would be parked and
        # push the longest parked out)
        for r in rs:
            r.end_session()


def test():
    store_only()
    with Broker(conf=list(mu.conf()), name="parked") as b:
        check_eq(parked(b), 0, "no parked session at the start")
        part1(b)
        part2(b)
        part3(b)
    part4()


main(test)
