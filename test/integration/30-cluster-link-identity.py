#!/usr/bin/env python3
"""Cluster: what a forwarded message's identity costs on a link, and that
it arrives whole, between nodes of link protocol 2 and between a node of
version 2 and a node that speaks only version 1 (bridge/proto.h).

Two nodes of version 2:
- both ends of both links say in their logs that they speak protocol 2;
- 300 QoS 1 messages (topic "lb/t", 7-byte payloads) published on n1 for
  a subscriber on n2 cost at most 38 bytes each between the two nodes
  ($SYS .../nodes/<n>/bytes of both nodes, both ways: the PUBLISH and its
  PUBACK). The PUBLISH without identity is 19 bytes and the PUBACK 4; the
  identity of version 1 ("$tern/i", 23 bytes) makes it 46, that of
  version 2 about 8 (31);
- every message is stored on n2 with the identity it has on n1, where it
  was published (an offline persistent session on each node holds them;
  the msgs rows of both stores are compared once the nodes have
  stopped), n1's name hash its origin.

A node of version 2 and one started with TERN_TEST_LINK_PROTO=1, as a
node of version 1 would be: every end of both links says protocol 1;
100 QoS 2 messages published on each node reach a QoS 2 subscriber on
the other, in order and exactly once, and are stored on both nodes with
the same identity, each with its publishing node as origin.

TERN_TEST_OLD_TERND=PATH runs that older node with the ternd at PATH (a
build of an earlier version) instead; its log says nothing of the
protocol, so only the other node's log is checked then.
"""
import os
import sqlite3
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import harness  # noqa: E402
import mqttraw as raw  # noqa: E402
from harness import check, check_eq, log, main  # noqa: E402
from cluster import (Cluster, SYS_CONF, SysWatch, settle_all,  # noqa: E402
                     sys_node)
from storeutil import Publisher, Receiver, db_path, payloads  # noqa: E402

N = 300
N_MIXED = 100
BYTES_MAX = 38


def fnv1a(name):
    """A node's origin (bridge_origin_of): FNV-1a 64 of its name."""
    h = 0xcbf29ce484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001b3) & (2 ** 64 - 1)
    return h or 1


def stored_ids(b, prefix):
    """{payload: {(origin, seq) or None, ...}} of the messages in b's
    store whose payload starts with prefix. A message body is in msgs, or
    in the queue row that holds it (queue, qlog: sql_queue.c)."""
    con = sqlite3.connect("file:%s?mode=ro" % db_path(b), uri=True,
                          timeout=5)
    try:
        rows = []
        for table in ("msgs", "queue", "qlog"):
            rows += con.execute("SELECT payload, props FROM %s WHERE "
                                "payload IS NOT NULL" % table).fetchall()
    finally:
        con.close()
    out = {}
    for payload, props in rows:
        payload = bytes(payload)
        if not payload.startswith(prefix):
            continue
        props = bytes(props or b"")
        # msg.c: version 2, flag 16: origin and sequence after 3 bytes
        if len(props) >= 19 and props[0] == 2 and props[1] & 16:
            ident = (int.from_bytes(props[3:11], "big"),
                     int.from_bytes(props[11:19], "big"))
        else:
            ident = None
        out.setdefault(payload, set()).add(ident)
    return out


def stored_all(b, want, prefix):
    """The identity of each payload of want in b's store (b stopped: a
    running node holds its store exclusively); each is there, with one
    identity in every row that holds it."""
    got = stored_ids(b, prefix)
    missing = [p for p in want if p not in got]
    check(not missing, "%s's store lacks %d messages, such as %r"
          % (b.name, len(missing), missing[:3]))
    for p in want:
        check_eq(len(got[p]), 1, "%s: identities of %r in the store (%r)"
                 % (b.name, p, got[p]))
    return {p: next(iter(got[p])) for p in want}


def offline_sub(port, client_id, topic, qos):
    """A persistent session subscribed to topic, left offline: it keeps
    the messages in the store."""
    r = Receiver(port, client_id, version=raw.V5)
    r.connect(clean=True)
    r.subscribe([(topic, qos)])
    r.disconnect()


def same_identity(nodes, want, prefix, origin):
    """Every payload of want is stored on each node of nodes with one
    identity, the same on all, of that origin, distinct sequences. The
    nodes are stopped."""
    ids = [stored_all(b, want, prefix) for b in nodes]
    for p in want:
        first = ids[0][p]
        check(first is not None, "%s: %r stored without identity"
              % (nodes[0].name, p))
        check_eq(first[0], origin, "origin of %r" % p)
        for b, got in zip(nodes[1:], ids[1:]):
            check_eq(got[p], first, "identity of %r on %s (as on %s)"
                     % (p, b.name, nodes[0].name))
    seqs = [ids[0][p][1] for p in want]
    check_eq(len(set(seqs)), len(seqs), "distinct sequences")


def link_bytes(watches, names):
    """What the nodes have sent each other: node i's bytes to the other."""
    return sum(w.num(sys_node(other, "bytes")) or 0
               for w, other in zip(watches, reversed(names)))


def part_v2():
    log("two nodes of version 2")
    with Cluster(2, conf=[SYS_CONF]) as cl:
        n1, n2 = cl[0], cl[1]
        offline_sub(n1.port, "lb-keep-1", "lb/#", 1)
        offline_sub(n2.port, "lb-keep-2", "lb/#", 1)
        with SysWatch(n1.port, "n1") as w1, SysWatch(n2.port, "n2") as w2:
            ws = [w1, w2]
            settle_all(ws)
            b0 = link_bytes(ws, cl.names)
            r0 = w2.num(sys_node("n1", "received")) or 0
            p = Publisher(n1.port, "lb-pub", version=raw.V5)
            want = payloads("lb", N)
            check_eq(len(p.publish_acked("lb/t", want, qos=1)), N,
                     "messages acknowledged")
            p.close()
            w2.wait_num(sys_node("n1", "received"),
                        lambda v: v >= r0 + N, 15.0,
                        "n2 received %d messages from n1" % N)
            settle_all(ws)
            b1 = link_bytes(ws, cl.names)
        per = (b1 - b0) / N
        log("bytes between the nodes per message: %.1f" % per)
        check(per <= BYTES_MAX, "%.1f bytes between the nodes per message, "
              "want at most %d" % (per, BYTES_MAX))
        for b, other in ((n1, "n2"), (n2, "n1")):
            for way in ("to", "from"):
                line = "cluster link %s %s speaks protocol 2" % (way, other)
                check(line in b.log(), "%s's log: %r" % (b.name, line))
    same_identity([n1, n2], want, b"lb-", fnv1a("n1"))


def start_mixed(cl):
    """n1 speaks version 1 at most (or is an older ternd), n2 is this
    one."""
    old = os.environ.get("TERN_TEST_OLD_TERND")
    saved = harness.ternd_path
    os.environ["TERN_TEST_LINK_PROTO"] = "1"
    if old:
        harness.ternd_path = lambda: old
    try:
        cl[0].start()
    finally:
        del os.environ["TERN_TEST_LINK_PROTO"]
        harness.ternd_path = saved
    cl[1].start()
    cl.wait_links()
    return old


def part_mixed():
    log("a node of version 2 and one of version 1")
    with Cluster(2, conf=[SYS_CONF], start=False) as cl:
        n1, n2 = cl[0], cl[1]
        old = start_mixed(cl)
        for b, other in ((n1, "n2"), (n2, "n1")):
            if old and b is n1:
                continue
            for way in ("to", "from"):
                line = "cluster link %s %s speaks protocol 1" % (way, other)
                check(line in b.log(), "%s's log: %r" % (b.name, line))
        offline_sub(n1.port, "mx-keep-1", "mx/#", 2)
        offline_sub(n2.port, "mx-keep-2", "mx/#", 2)
        subs = []
        for b in (n1, n2):
            r = Receiver(b.port, "mx-sub-%s" % b.name, version=raw.V5)
            r.connect(clean=True)
            r.subscribe([("mx/#", 2)])
            subs.append(r)
        sent = {}
        for b, topic in ((n1, "mx/a"), (n2, "mx/b")):
            p = Publisher(b.port, "mx-pub-%s" % b.name, version=raw.V5)
            sent[topic] = payloads("mx-%s" % b.name, N_MIXED)
            check_eq(len(p.publish_acked(topic, sent[topic], qos=2)),
                     N_MIXED, "QoS 2 messages acknowledged on %s" % b.name)
            p.close()
        for r in subs:
            r.run_until(lambda r: len(r.delivered) >= 2 * N_MIXED and
                        not r.awaiting_rel, 15.0,
                        "%d messages" % (2 * N_MIXED))
            r.expect_quiet(0.5)
            check_eq(r.dups, [], "%s: QoS 2 duplicates" % r.client_id)
            for topic, want in sent.items():
                check_eq([d[1] for d in r.delivered if d[0] == topic], want,
                         "%s: %s in order, once" % (r.client_id, topic))
            r.disconnect()
    same_identity([n1, n2], sent["mx/a"], b"mx-n1-", fnv1a("n1"))
    same_identity([n2, n1], sent["mx/b"], b"mx-n2-", fnv1a("n2"))


def test():
    t0 = time.monotonic()
    part_v2()
    part_mixed()
    log("done in %.1f s" % (time.monotonic() - t0))


main(test)
