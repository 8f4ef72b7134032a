#!/usr/bin/env python3
"""max_topic_levels (default 128) bounds the depth of topic names and
filters, because matching recurses once per level: a deeper PUBLISH topic
gets DISCONNECT 0x90 (v5) or a closed connection (3.1.1), a deeper filter
gets 0x8F (v5) / 0x80 (3.1.1) in its SUBACK entry while the other entries
of the same SUBSCRIBE succeed, a deeper v5 will topic gets CONNACK 0x90.
The original crash (a retained message with a very deep topic, then
SUBSCRIBE '#': stack overflow) no longer happens, and with
max_topic_levels 1024 a 1024-level topic works (retained, '#', '+' path)
while 1025 levels are refused. tern-only: mosquitto has no such limit."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

RC_TOPIC_FILTER_INVALID = 0x8F


def levels(n, word="a"):
    """A topic name of exactly n levels."""
    return "/".join([word] * n)


def check_refused(port, levels_topic, what, by):
    """A PUBLISH (QoS 0, QoS 1 and retained) to levels_topic closes the
    connection: DISCONNECT 0x90 for v5, a plain close for 3.1.1."""
    for version in (V311, V5):
        for qos, retain in ((0, False), (1, False), (1, True)):
            expect_rejected(port, raw.publish(levels_topic, b"deep",
                                              qos=qos, retain=retain,
                                              mid=7, version=version),
                            version=version,
                            disconnect_rc=raw.RC_TOPIC_NAME_INVALID,
                            what="%s (q%d%s)" % (what, qos,
                                                 " retained" if retain
                                                 else ""))
        by.check()


def check_sub_refused(port, flt, what):
    """One SUBSCRIBE with a valid entry, the deep filter, a valid entry:
    only the deep entry fails; the valid ones work."""
    for version in (V311, V5):
        c = raw.Client(port, version=version)
        c.connect("deep-sub-%d" % version)
        ack = c.subscribe([("deepok/a", 1), (flt, 0), ("deepok/b", 0)],
                          mid=3)
        bad = RC_TOPIC_FILTER_INVALID if version == V5 else 0x80
        check_eq(ack.codes, [1, bad, 0], "%s: SUBACK codes (v%d)"
                 % (what, version))
        c.publish("deepok/a", b"one", qos=1, mid=4)
        c.publish("deepok/b", b"two", qos=0)
        got = sorted((m.topic, m.payload)
                     for m in (c.recv_publish(timeout=3.0),
                               c.recv_publish(timeout=3.0)))
        check_eq(got, [("deepok/a", b"one"), ("deepok/b", b"two")],
                 "%s: other entries still subscribed (v%d)"
                 % (what, version))
        c.expect_none(0.1)
        c.disconnect()


def check_will_refused(port, topic, what):
    c = raw.Client(port, version=V5)
    ack = c.connect("deep-will-5", will=(topic, b"w", 0, False), rc=None)
    check_eq(hex(ack.reason), hex(raw.RC_TOPIC_NAME_INVALID),
             "%s: CONNACK reason" % what)
    got = c.wait_closed(3.0)
    check(not got, "%s: nothing after the CONNACK: %r" % (what, got))
    c.close()
    # 3.1.1: refused too (a CONNACK with a failure code, or a close)
    c = raw.Client(port, version=V311)
    c.send(raw.connect("deep-will-4", version=V311,
                       will=(topic, b"w", 0, False)))
    got = c.wait_closed(3.0)
    c.close()
    check(all(p.type == raw.CONNACK and p.reason != 0 for p in got),
          "%s (3.1.1): refused, got %r" % (what, got))


def test():
    tern_only("max_topic_levels")

    # -- default: 128 levels
    with Broker() as b:
        by = Bystander(b.port)
        # the boundary: 128 levels pass, as name and as filter
        ok = raw.Client(b.port, version=V5)
        ok.connect("deep-128")
        ack = ok.subscribe([(levels(128), 1), ("+/" * 127 + "+", 1)],
                           mid=2)
        check_eq(ack.codes, [1, 1], "128-level filters granted")
        ok.publish(levels(128), b"at-limit", qos=1, mid=9)
        m = ok.recv_publish(timeout=3.0)
        check_eq((m.topic, m.payload), (levels(128), b"at-limit"),
                 "128-level topic delivered")
        ok.expect_none(0.1)
        ok.disconnect()

        check_refused(b.port, levels(129), "129 levels", by)
        check_refused(b.port, "/" * 200, "201 empty levels", by)
        check_sub_refused(b.port, "/" * 200, "201-level filter")
        check_sub_refused(b.port, "+/" * 200 + "#", "202-level filter")
        check_will_refused(b.port, "/" * 200, "201-level will topic")

        # the original crash: a retained publish of a very deep topic
        # (65535 empty levels, refused now), then SUBSCRIBE '#'
        for version in (V311, V5):
            expect_rejected(b.port, raw.publish("/" * 65534, b"x",
                                                retain=True,
                                                version=version),
                            version=version,
                            disconnect_rc=raw.RC_TOPIC_NAME_INVALID,
                            what="65535-level retained PUBLISH")
        s = raw.Client(b.port, version=V311)
        s.connect("deep-hash")
        ack = s.subscribe([("#", 0)], mid=5)
        check_eq(ack.codes, [0], "SUBSCRIBE '#'")
        # nothing was retained: no PUBLISH; a live message still matches
        s.expect_none(0.3)
        s.publish("deep/probe", b"p", qos=0)
        m = s.recv_publish(timeout=3.0)
        check_eq(m.topic, "deep/probe", "'#' subscriber served")
        s.ping()
        s.disconnect()
        by.check()
        by.close()
        check(b.alive(), "broker alive")

    # -- max_topic_levels 1024: the most allowed
    with Broker(conf=["max_topic_levels 1024"], name="levels1024") as b:
        by = Bystander(b.port)
        plus = "+/" * 1023 + "+"
        for version in (V311, V5):
            # one retained topic per version (the '+' filter matches both)
            deep = levels(1024, "v%d" % version)
            # retained so far: this version's topic and the earlier ones
            kept = [v for v in (V311, V5) if v <= version]
            c = raw.Client(b.port, version=version)
            c.connect("deep-1024-%d" % version)
            # '+' at all levels but the first (retained topics of the
            # other version do not match it)
            ack = c.subscribe([(deep, 1), ("v%d/" % version + "+/" * 1022
                                           + "+", 1)], mid=2)
            check_eq(ack.codes, [1, 1], "1024-level filters granted")
            c.publish(deep, b"v%d" % version, qos=1, mid=3, retain=True)
            m = c.recv_publish(timeout=3.0)
            check_eq((m.topic == deep, m.payload, m.retain),
                     (True, b"v%d" % version, 0),
                     "1024-level topic delivered once (overlap)")
            c.expect_none(0.1)
            c.disconnect()
            # retained deep topic, then '#' (the crash path), then '+'
            s = raw.Client(b.port, version=version)
            s.connect("deep-1024-hash-%d" % version)
            s.send(raw.subscribe(4, [("#", 1)], version=version))
            s.expect_ack(raw.SUBACK, 4)
            got = sorted((m.topic.split("/", 1)[0], len(m.topic), m.payload,
                          m.retain)
                         for m in [s.recv_publish(timeout=3.0)
                                   for _ in kept])
            check_eq(got, [("v%d" % v, len(levels(1024, "v%d" % v)),
                            b"v%d" % v, 1) for v in kept],
                     "retained 1024-level topics via '#'")
            s.unsubscribe("#", mid=5)
            s.send(raw.subscribe(6, [(plus, 1)], version=version))
            s.expect_ack(raw.SUBACK, 6)
            got = sorted((m.topic.split("/", 1)[0], m.retain)
                         for m in [s.recv_publish(timeout=3.0)
                                   for _ in kept])
            check_eq(got, [("v%d" % v, 1) for v in kept],
                     "retained 1024-level topics via '+' x 1024")
            s.expect_none(0.1)
            s.disconnect()
            by.check()

        check_refused(b.port, levels(1025), "1025 levels", by)
        check_refused(b.port, "/" * 1024, "1025 empty levels", by)
        check_sub_refused(b.port, "+/" * 1024 + "+", "1025-level filter")
        check_will_refused(b.port, levels(1025), "1025-level will topic")
        by.check()
        by.close()

    # -- a small limit, to prove the key is read
    with Broker(conf=["max_topic_levels 2"], name="levels2") as b:
        c = raw.Client(b.port, version=V5)
        c.connect("deep-2")
        ack = c.subscribe([("a/+", 0), ("a/+/c", 0), ("#", 0)], mid=1)
        check_eq(ack.codes, [0, RC_TOPIC_FILTER_INVALID, 0],
                 "max_topic_levels 2: SUBACK")
        c.publish("a/b", b"2", qos=0)
        m = c.recv_publish(timeout=3.0)
        check_eq(m.topic, "a/b", "2 levels pass")
        c.expect_none(0.1)
        c.disconnect()
        expect_rejected(b.port, raw.publish("a/b/c", b"3", version=V5),
                        version=V5, disconnect_rc=raw.RC_TOPIC_NAME_INVALID,
                        what="3 levels with max_topic_levels 2")

    # -- out of range: refused at startup (1..1024)
    for i, value in enumerate(("0", "1025")):
        d = tmp_path("range%d" % i)
        os.makedirs(d)
        conf = os.path.join(d, "ternd.conf")
        with open(conf, "w") as f:
            f.write("listener 0 127.0.0.1\nmax_topic_levels %s\n" % value)
        data = os.path.join(d, "data")
        r = run_ternd(["-c", conf, "-d", data], timeout=10)
        log("max_topic_levels %s -> rc %r, stderr %r"
            % (value, r.rc, r.err.strip()))
        check_eq(r.rc, 1, "exit status for max_topic_levels %s" % value)
        check("%s:2:" % conf in r.err, "stderr names %s:2: (got %r)"
              % (conf, r.err))


main(test)
