#!/usr/bin/env python3
"""Group logs (group_log_threshold, store/sql_group.c): a QoS 1/2 message
to a group of offline persistent members is written once, and every
member still gets every acknowledged message, in order, exactly once,
through kill -9 of the node:

1. 24 members (3.1.1 and 5; QoS 1 and 2 subscriptions; one with a
   subscription id; one also subscribed to a wildcard that overlaps; one
   with No Local) are offline; 150 group messages and, in between, a few
   messages to one member's own topic are acknowledged. The metrics say
   the group messages were written once each, not once per member (the
   span rows are a handful, not 150 per member). kill -9, restart: each
   member resumes and gets its messages in order, once, at the QoS it
   subscribed with (a v5 member with its subscription id); then a restart finds
   nothing left (the log is trimmed once every member has its messages).
2. Members that take part of their messages and acknowledge them (QoS 1),
   or are at PUBREC (QoS 2) when the node is killed get after the
   restart only what they had not acknowledged, and the QoS 2 member its
   PUBRELs, never a PUBLISH it had PUBRECed.
3. A member whose queue is full (max_queued_messages) drops what is past
   its limit, as a member with a row per message does, while the others
   get everything.
4. group_log_threshold 0: the same messages, one row per member (the
   metrics count no entry).
5. A full disk (a tmpfs the test mounts): group messages refused while
   it lasts and published again are each delivered once through kill
   -9, also to a member whose span opened in a refused batch.
6. Members parked (offline_queue_cache) leave that state at the first
   group message, which takes the log like the others.
"""
import os
import sqlite3
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402
import metricsutil as mu  # noqa: E402
from storeutil import *  # noqa: E402,F401,F403

TOPIC = "grp/chat/1"


def metric(b, name):
    return int(mu.scrape(b.http_port).get(name))


def broker(extra=(), name="group"):
    return Broker(conf=list(mu.conf()) + ["group_log_threshold 4",
                                          "offline_queue_cache 0"] +
                  list(extra), name=name)


def members(b, n, prefix, qos=1, extra=None):
    """n offline persistent members of TOPIC (half 3.1.1, half 5)."""
    out = []
    for i in range(n):
        v = V311 if i % 2 == 0 else V5
        r = Receiver(b.port, "%s-%02d" % (prefix, i), version=v)
        r.connect(clean=False, expect_present=0)
        r.subscribe([(TOPIC, qos)])
        if extra is not None:
            extra(i, r)
        r.disconnect()
        out.append(r)
    return out


def db_rows(b, table):
    con = sqlite3.connect(db_path(b))
    try:
        return con.execute("SELECT count(*) FROM %s" % table).fetchone()[0]
    finally:
        con.close()


def part1():
    with broker(name="p1") as b:
        special = {}

        def extra(i, r):
            if i == 2:  # overlapping wildcard: one delivery each
                r.subscribe([("grp/chat/+", 1)], mid=2)
                special["overlap"] = r
            elif i == 3:  # QoS 2 subscription
                r.subscribe([(TOPIC, 2)], mid=2)
                special["q2"] = r
            elif i == 5:  # No Local (v5)
                r.subscribe([(TOPIC, 1 | 0x04)], mid=2)
                special["nl"] = r
            elif i == 4:  # gets messages of its own too
                r.subscribe([("inbox/%s" % r.client_id, 1)], mid=2)
                special["inbox"] = r
        mem = members(b, 24, "g1", extra=extra)
        pub = Publisher(b.port, "g1-pub", version=V5)
        want = []
        inbox = []
        for k in range(6):
            pl = payloads("m%d" % k, 25)
            check_eq(pub.publish_acked(TOPIC, pl, qos=2)[-25:], pl,
                     "group messages acknowledged")
            want += pl
            ib = b"inbox-%d" % k
            check_eq(pub.publish_one("inbox/%s" % special["inbox"].client_id,
                                     ib, qos=1), 0, "inbox message")
            inbox.append(ib)
        entries = metric(b, "tern_group_log_entries_total")
        deliveries = metric(b, "tern_group_log_deliveries_total")
        spans = metric(b, "tern_group_log_spans_total")
        log("group log: %d entries, %d deliveries, %d spans"
            % (entries, deliveries, spans))
        check_eq(entries, 150, "one log entry per group message")
        # every member but the overlapping one and the No Local one takes
        # every message through the log
        check_eq(deliveries, 150 * 22, "deliveries through the log")
        # a span per member, and one more per inbox message for the
        # member that gets those
        check(spans <= 22 + 6 + 1, "span rows written: %d (not one per "
              "message per member)" % spans)
        crash(b)
        for r in mem:
            r.connect(clean=False, expect_present=1)
            exp = list(want)
            if r is special["inbox"]:
                exp = want + inbox
            got = r.receive_n(len(exp), timeout=15.0)
            pl = [d[1] for d in got]
            if r is special["inbox"]:
                # per topic, in order (the inbox messages were queued as
                # rows, the group's through the log)
                check_in_order_once([p for p in pl if p in want], want,
                                    r.client_id + " group messages")
                check_in_order_once([p for p in pl if p in inbox], inbox,
                                    r.client_id + " inbox messages")
            else:
                check_in_order_once(pl, exp, r.client_id)
            want_qos = 2 if r is special["q2"] else 1
            check(all(d[2] == want_qos for d in got),
                  "%s: delivered at QoS %d (got %r)"
                  % (r.client_id, want_qos, sorted({d[2] for d in got})))
            if r is special["q2"]:
                r.wait_payload(exp[-1])
        # everything was acknowledged: nothing comes again, and nothing
        # of the group is left on disk after a clean stop
        for r in mem:
            r.expect_quiet(0.1)
            r.disconnect()
        b.restart()
        for r in mem[:6]:
            r.connect(clean=False, expect_present=1)
            r.expect_quiet(0.3)
            r.disconnect()
        b.stop()
        check_eq(db_rows(b, "glog"), 0, "group log entries left")
        check_eq(db_rows(b, "spans"), 0, "spans left")
        b.start()


def part_subid():
    """The subscription id of a member's group subscription comes with
    its messages read back from the log (v5)."""
    with broker(name="subid") as b:
        mem = members(b, 6, "sid")
        r = Receiver(b.port, "sid-x", version=V5)
        r.connect(clean=False, expect_present=0)
        r.subscribe([(TOPIC, 1)], properties={"subscription_identifier": 9})
        r.disconnect()
        pub = Publisher(b.port, "sid-pub")
        pl = payloads("s", 10)
        pub.publish_acked(TOPIC, pl, qos=1)
        check_eq(metric(b, "tern_group_log_entries_total"), 10, "entries")
        crash(b)
        c = connect_persistent(b.port, "sid-x", V5, expect_present=1)
        got = []
        for _ in range(10):
            p = c.recv(5.0)
            check(p.type == raw.PUBLISH, "PUBLISH (got %r)" % p)
            sid = (p.props or {}).get("subscription_identifier")
            check(sid in (9, [9]), "subscription id of %r: %r"
                  % (p.payload, sid))
            got.append(p.payload)
            c.send(raw.puback(p.mid, version=V5))
        check_in_order_once(got, pl, "sid-x")
        c.close()
        for m in mem:
            m.connect(clean=False, expect_present=1)
            check_in_order_once([d[1] for d in m.receive_n(10)], pl,
                                m.client_id)
            m.disconnect()


def synced_abort(r):
    """Make sure the node has read what r sent (a PINGREQ answered after
    it), then drop the connection without acknowledging anything more."""
    r.c.send(raw.pingreq())
    deadline = time.monotonic() + 5
    while True:
        check(time.monotonic() < deadline, "%s: PINGRESP" % r.client_id)
        if r.recv().type == raw.PINGRESP:
            break
    r.abort()


def part2():
    with broker(name="p2") as b:
        q1 = members(b, 6, "g2a", qos=1)
        q2 = members(b, 6, "g2b", qos=2)
        pub = Publisher(b.port, "g2-pub")
        want = payloads("p", 40)
        pub.publish_acked(TOPIC, want, qos=2)
        check(metric(b, "tern_group_log_entries_total") == 40, "entries")
        # QoS 1 members take 15 and acknowledge them, then vanish
        for r in q1:
            r.connect(clean=False, expect_present=1)
            r.receive_n(15)
            synced_abort(r)
        # QoS 2 members: 10 complete, 5 at PUBREC (PUBREL not answered),
        # 5 received and not acknowledged
        for r in q2:
            r.connect(clean=False, expect_present=1)
            n_pub = 0
            deadline = time.monotonic() + 10
            while len(r.pubrels) < 15 or n_pub < 20:
                check(time.monotonic() < deadline, "%s: 20 PUBLISH and 15 "
                      "PUBREL (got %d, %d)" % (r.client_id, n_pub,
                                               len(r.pubrels)))
                p = r.recv()
                if p.type == raw.PUBLISH:
                    n_pub += 1
                    r.handle(p, ack=n_pub <= 15)
                else:
                    check(p.type == raw.PUBREL, "PUBREL (got %r)" % p)
                    r.handle(p, ack=len(r.pubrels) < 10)
            synced_abort(r)
        # the acks above are in the store once a commit after them is
        mark = Publisher(b.port, "g2-mark")
        mark.publish_one("other/topic", b"x", qos=1)
        crash(b)
        for r in q1:
            r.connect(clean=False, expect_present=1)
            r.run_until(lambda x: want[-1] in x.payloads(), 10.0, "all")
            got = r.payloads()
            check_eq(got[:15], want[:15], r.client_id + " first 15")
            # what was acknowledged never comes again; what was not may
            # (QoS 1), in order, and every message is there
            rest = got[15:]
            check(not any(p in want[:15] for p in rest),
                  "%s: an acknowledged message came again: %s"
                  % (r.client_id, summary(rest)))
            check_in_order_once(rest, want[15:], r.client_id + " rest")
            r.disconnect()
        for r in q2:
            r.connect(clean=False, expect_present=1)
            r.run_until(lambda x: want[-1] in x.payloads() and
                        not x.awaiting_rel, 10.0, "all")
            check_in_order_once(r.payloads(), want, r.client_id)
            check(len(r.pubrels) >= 15, "%s: PUBRELs resent (%d)"
                  % (r.client_id, len(r.pubrels)))
            # PUBLISHes after a PUBREC are recognised duplicates, never
            # new deliveries (checked above); PUBREC'd ones are not sent
            check(not any(d.payload in want[:15] for d in r.dups),
                  "%s: a PUBLISH it had PUBRECed came again: %r"
                  % (r.client_id, r.dups))
            r.disconnect()


def part3():
    with broker(extra=["max_queued_messages 10"], name="p3") as b:
        mem = members(b, 6, "g3")
        pub = Publisher(b.port, "g3-pub")
        want = payloads("f", 16)
        pub.publish_acked(TOPIC, want, qos=1)
        crash(b)
        for r in mem:
            r.connect(clean=False, expect_present=1)
            got = [d[1] for d in r.receive_n(10)]
            check_in_order_once(got, want[:10], r.client_id)
            r.expect_quiet(0.3)
            r.disconnect()


def part4():
    with broker(extra=["group_log_threshold 0"], name="p4") as b:
        mem = members(b, 6, "g4")
        pub = Publisher(b.port, "g4-pub")
        want = payloads("z", 20)
        pub.publish_acked(TOPIC, want, qos=1)
        check_eq(metric(b, "tern_group_log_entries_total"), 0, "entries")
        crash(b)
        for r in mem:
            r.connect(clean=False, expect_present=1)
            check_in_order_once([d[1] for d in r.receive_n(20)], want,
                                r.client_id)
            r.disconnect()


def part5():
    """A full disk: group messages refused (v5 0x80) while it lasts and
    published again once it is freed are each delivered once, through
    kill -9, also to a member whose span opened in a refused batch (an
    inbox message had just closed its previous one)."""
    with small_disk_broker(conf=["group_log_threshold 4",
                                 "offline_queue_cache 0"],
                           name="p5") as (b, disk):
        mem = members(b, 6, "g5")
        inbox = "inbox/" + mem[0].client_id
        r0 = mem[0]
        r0.connect(clean=False, expect_present=1)
        r0.subscribe([(inbox, 1)], mid=3)
        r0.disconnect()
        pub = Publisher(b.port, "g5-pub", version=V5)
        want = payloads("d", 8)
        pub.publish_acked(TOPIC, want[:3], qos=1)
        pub.publish_one(inbox, b"own", qos=1)
        disk.fill()
        refused = []
        for m in want[3:5]:
            reason = pub.publish_one(TOPIC, m, qos=1)
            log("on a full disk: %r answered %#x" % (m, reason))
            if reason >= 0x80:
                refused.append(m)
        check(refused, "a group message refused on the full disk")
        disk.free()
        for m in refused:
            check_eq(pub.publish_one(TOPIC, m, qos=1), 0, "published again")
        pub.publish_acked(TOPIC, want[5:], qos=1)
        crash(b)
        for r in mem:
            r.connect(clean=False, expect_present=1)
            exp = want + ([b"own"] if r is r0 else [])
            got = [d[1] for d in r.receive_n(len(exp), timeout=10.0)]
            check_in_order_once([g for g in got if g != b"own"], want,
                                r.client_id)
            r.expect_quiet(0.3)
            r.disconnect()


def part6():
    """With parked sessions on (offline_queue_cache, the default), a
    member that went away with an empty queue is parked; the first group
    message sends its queue to disk, so every group message still takes
    the log."""
    with Broker(conf=list(mu.conf()) + ["group_log_threshold 4"],
                name="p6") as b:
        mem = members(b, 6, "g6")
        deadline = time.monotonic() + 5
        while metric(b, "tern_offline_sessions_parked") != 6:
            check(time.monotonic() < deadline, "6 members parked")
            time.sleep(0.05)
        pub = Publisher(b.port, "g6-pub")
        want = payloads("k", 10)
        pub.publish_acked(TOPIC, want, qos=1)
        check_eq(metric(b, "tern_offline_sessions_parked"), 0,
                 "parked members after a group message")
        check_eq(metric(b, "tern_group_log_entries_total"), 10, "entries")
        check_eq(metric(b, "tern_group_log_deliveries_total"), 60,
                 "deliveries through the log")
        crash(b)
        for r in mem:
            r.connect(clean=False, expect_present=1)
            check_in_order_once([d[1] for d in r.receive_n(10)], want,
                                r.client_id)
            r.disconnect()


def test():
    store_only()
    part1()
    part_subid()
    part2()
    part3()
    part4()
    part5()
    part6()


main(test)
