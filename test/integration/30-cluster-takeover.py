#!/usr/bin/env python3
"""Cluster: a persistent session moves to the node its client connects
to.

A. Online: a 5.0 client with a persistent session on n1 connects again,
   with the same client id, to n3: the connection on n1 gets DISCONNECT
   0x8E and is closed, n3 answers with session present 1, and the
   subscriptions came along: messages published on n1 and n2 reach the
   client on n3, once.
B. Offline, with a queue and messages in flight: the client (5.0, and a
   3.1.1 one with clean session 0) takes QoS 2 and QoS 1 messages on n1,
   leaves one QoS 2 message unacknowledged (no PUBREC) and another
   half-done (PUBREC sent, PUBREL received, no PUBCOMP), then goes away;
   messages are published on n2 meanwhile; it reconnects to n3 (clean
   start 0): session present 1, the PUBREL comes again, the unacknowledged
   PUBLISH comes again with DUP and its packet id, then every message
   published meanwhile, in order, each exactly once; nothing else."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check_eq, log, main  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import Cluster  # noqa: E402
from storeutil import Publisher, Receiver, check_in_order_once  # noqa

N = 40


def online(cl):
    r = Receiver(cl[0].port, "tk-online", version=raw.V5)
    r.connect(clean=False, expect_present=0)
    r.subscribe([("tk/on/#", 2)])
    p = Publisher(cl[1].port, "tk-on-pub", version=raw.V5)
    p.publish_one("tk/on/1", b"on-1", qos=2)
    r.run_until(lambda s: len(s.delivered) >= 1 and not s.awaiting_rel,
                10.0, "on-1 on n1")
    old = r.c
    r.c = None      # keep the old connection open
    r.port = cl[2].port
    r.connect(clean=False, expect_present=1)
    got = old.wait_closed(10.0)
    discs = [q for q in got if q.type == raw.DISCONNECT]
    check_eq([q.reason for q in discs], [raw.RC_SESSION_TAKEN_OVER],
             "DISCONNECT reasons on the old connection (n1)")
    old.close()
    for node, payload in ((0, b"on-n1"), (1, b"on-n2"), (2, b"on-n3")):
        p2 = Publisher(cl[node].port, "tk-on-pub-%d" % node)
        p2.publish_one("tk/on/x", payload, qos=2)
        p2.close()
    r.run_until(lambda s: len(s.delivered) >= 4 and not s.awaiting_rel,
                10.0, "3 messages after the takeover")
    check_eq(sorted(d[1] for d in r.delivered[1:]),
             [b"on-n1", b"on-n2", b"on-n3"],
             "messages after the takeover, at the client on n3")
    r.expect_quiet(0.5)
    check_eq(sorted(r.payloads()), [b"on-1", b"on-n1", b"on-n2", b"on-n3"],
             "deliveries, each once")
    p.close()
    r.end_session()


def offline(cl, v):
    tag = "v%d" % v
    r = Receiver(cl[0].port, "tk-off-%s" % tag, version=v)
    r.connect(clean=False, expect_present=0)
    r.subscribe([("tk/%s/q2" % tag, 2), ("tk/%s/q1" % tag, 1)])
    p = Publisher(cl[1].port, "tk-off-pub-%s" % tag, version=raw.V5)
    # two QoS 2 messages in flight on n1
    p.publish_one("tk/%s/q2" % tag, b"half-done", qos=2)
    p.publish_one("tk/%s/q2" % tag, b"unacked", qos=2)
    a = r.recv(10.0)
    check_eq((a.type, a.payload), (raw.PUBLISH, b"half-done"),
             "first PUBLISH on n1")
    r.handle(a)                       # PUBREC
    b = r.recv(10.0)
    rel = None
    while b.type == raw.PUBREL:       # the PUBREL may come before
        rel = b
        b = r.recv(10.0)
    check_eq((b.type, b.payload), (raw.PUBLISH, b"unacked"),
             "second PUBLISH on n1")
    if rel is None:
        rel = r.recv(10.0)
    check_eq((rel.type, rel.mid), (raw.PUBREL, a.mid), "PUBREL on n1")
    # no PUBCOMP for a, no PUBREC for b: the client goes away
    r.abort()

    pl = []
    for i in range(N):
        q = 2 if i % 2 == 0 else 1
        m = b"%s-meanwhile-%03d-q%d" % (tag.encode(), i, q)
        p.publish_one("tk/%s/q%d" % (tag, q), m, qos=q)
        pl.append(m)

    r.port = cl[2].port
    r.connect(clean=False, expect_present=1)
    first = r.recv(10.0)
    check_eq((first.type, first.mid), (raw.PUBREL, a.mid),
             "%s on n3: first the PUBREL again" % tag)
    r.handle(first)                  # PUBCOMP
    again = r.recv(10.0)
    check_eq((again.type, again.payload, again.mid, again.dup, again.qos),
             (raw.PUBLISH, b"unacked", b.mid, 1, 2),
             "%s on n3: the unacknowledged PUBLISH again" % tag)
    r.handle(again)
    r.run_until(lambda s: pl[-1] in s.payloads() and not s.awaiting_rel,
                20.0, "the messages published meanwhile")
    check_in_order_once(r.payloads(), [b"half-done", b"unacked"] + pl,
                        "%s: deliveries to the application" % tag)
    r.expect_quiet(0.5)
    # published on n1 now: reaches the session on n3, once
    p1 = Publisher(cl[0].port, "tk-off-after-%s" % tag)
    p1.publish_one("tk/%s/q2" % tag, b"after", qos=2)
    p1.close()
    r.wait_payload(b"after", timeout=10.0)
    r.expect_quiet(0.5)
    check_eq(r.payloads().count(b"after"), 1, "after: once")
    log("%s: %d messages moved with the session" % (tag, N + 2))
    p.close()
    r.end_session()


def test():
    with Cluster(3) as cl:
        online(cl)
        offline(cl, raw.V5)
        offline(cl, raw.V311)


main(test)
