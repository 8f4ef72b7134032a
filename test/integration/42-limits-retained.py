#!/usr/bin/env python3
"""The retained messages are bounded by default: max_retained_messages
(1,000,000 topics) and max_retained_bytes (1 GiB), neither set here.

Default node (store off, no $SYS topics, so that the count is exactly
what the test retained): a million QoS 0 retained messages on distinct
topics are all kept; past them a new retained topic is not kept: an MQTT
5.0 QoS 1 publisher gets PUBACK 0x97 and its message reaches nobody, a
QoS 0 message, an MQTT 3.1.1 QoS 1 message and a retained will are
delivered but not retained. Replacing a topic's message is still
allowed, and clearing one makes room for exactly one new topic. Then
existing topics are replaced with 1 MB messages until the first 0x97:
that happens at about 1 GiB in all, and a replacement no larger, or a
clear, is still allowed.

Raised node (max_retained_messages 1000010, max_retained_bytes 1 GiB +
64 MiB): ten more new topics fit, and about 64 more of the 1 MB
replacements than on the default node."""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402

COUNT = 1000000                 # the default max_retained_messages
GIB = 1024 * 1024 * 1024        # the default max_retained_bytes
BIG = 1000000                   # payload of the growing replacements
# A node holding a GiB of retained messages takes its time to stop under
# the sanitizers (LeakSanitizer scans the heap at exit): the harness's
# 10 s were exceeded on a loaded machine, so this node gets a minute.
STOP_SECS = 60.0
QUOTA = 0x97
CONF = ["store off", "sys_interval 0", "log_level notice"]


def topic(i):
    return "r/%07d" % i


def fill(c, n):
    """Retain b"x" on topic(0) .. topic(n - 1), QoS 0, pipelined; the
    PINGRESP after them says the node has handled them all."""
    batch = []
    for i in range(n):
        batch.append(raw.publish(topic(i), b"x", retain=True, version=V5))
        if len(batch) == 20000:
            c.send(b"".join(batch))
            batch = []
    if batch:
        c.send(b"".join(batch))
    c.ping(timeout=300)


def pub_q1(c, t, payload, mid):
    """A QoS 1 retained PUBLISH; returns the PUBACK reason code."""
    c.send(raw.publish(t, payload, qos=1, retain=True, mid=mid,
                       version=c.version))
    return c.expect_ack(raw.PUBACK, mid).reason


def retained(port, t):
    """The payload retained on t (a fresh subscriber gets it)."""
    s = raw.Client(port, version=V5)
    s.connect("")
    s.subscribe([(t, 0)], mid=1)
    p = s.expect(raw.PUBLISH, timeout=10, what="retained on %s" % t)
    s.disconnect()
    return p.payload


def retained_none(port, t, what):
    s = raw.Client(port, version=V5)
    s.connect("")
    s.subscribe([(t, 0)], mid=1)
    s.expect_none(0.5)
    s.disconnect()
    log("%s: not retained" % what)


def grow(c, first, limit):
    """Replace topics first, first + 1, ... with BIG-byte messages, eight
    in flight, until the first refusal; returns how many were taken."""
    payload = b"y" * BIG
    taken = 0
    i = first
    while taken < limit:
        mids = list(range(1, 9))
        for k, mid in enumerate(mids):
            c.send(raw.publish(topic(i + k), payload, qos=1, retain=True,
                               mid=mid, version=V5))
        codes = [c.expect_ack(raw.PUBACK, mid, timeout=60).reason
                 for mid in mids]
        for rc in codes:
            check(rc in (0, 0x10, QUOTA), "PUBACK reason %#x" % rc)
        ok = [rc for rc in codes if rc < 0x80]
        check_eq(codes, ok + [QUOTA] * (len(codes) - len(ok)),
                 "once refused, every larger replacement is")
        taken += len(ok)
        i += len(codes)
        if len(ok) < len(codes):
            return taken
    raise TestFailure("%d replacements of %d bytes taken, no 0x97"
                      % (taken, BIG))


def default_node():
    with Broker(conf=CONF, name="default") as b:
        b.STOP_TIMEOUT = STOP_SECS
        live = raw.Client(b.port, version=V5, timeout=30)
        live.connect("live")
        live.subscribe([("n/#", 1)], mid=1)
        c = raw.Client(b.port, version=V5, timeout=300)
        c.connect("filler")
        t0 = time.monotonic()
        fill(c, COUNT)
        log("%d retained in %.1f s" % (COUNT, time.monotonic() - t0))
        check_eq(retained(b.port, topic(COUNT - 1)), b"x",
                 "the millionth topic is retained")

        # a new topic past the count: v5 QoS 1 refused and not routed
        check_eq(pub_q1(c, "n/q1", b"refused", 2), QUOTA,
                 "v5 QoS 1 on a new topic past the bound")
        live.expect_none(0.3)
        # QoS 0, 3.1.1 QoS 1, a will: delivered, not retained
        c.send(raw.publish("n/q0", b"live only", retain=True, version=V5))
        m = live.recv_publish()
        check_eq((m.topic, m.payload), ("n/q0", b"live only"),
                 "QoS 0 past the bound is delivered")
        o = raw.Client(b.port, version=V311)
        o.connect("v311")
        check_eq(pub_q1(o, "n/v3", b"3.1.1", 1), 0,
                 "3.1.1 PUBACK (it carries no reason)")
        m = live.recv_publish()
        check_eq((m.topic, m.payload), ("n/v3", b"3.1.1"),
                 "3.1.1 QoS 1 past the bound is delivered")
        w = raw.Client(b.port, version=V5)
        w.connect("will", will=("n/will", b"gone", 0, True))
        w.abort()
        m = live.recv_publish()
        check_eq((m.topic, m.payload), ("n/will", b"gone"),
                 "the will past the bound is published")
        for t in ("n/q1", "n/q0", "n/v3", "n/will"):
            retained_none(b.port, t, t)

        # replacing is allowed; clearing makes room for exactly one
        check(pub_q1(c, topic(5), b"replaced", 3) < 0x80,
              "replacing a retained topic's message")
        check_eq(retained(b.port, topic(5)), b"replaced", "replacement")
        check(pub_q1(c, topic(6), b"", 4) < 0x80, "clearing a topic")
        check(pub_q1(c, "n/one", b"fits", 5) < 0x80,
              "one new topic after the clear")
        check_eq(pub_q1(c, "n/two", b"no room", 6), QUOTA,
                 "and only one")

        # max_retained_bytes: grow by replacements until refused
        t0 = time.monotonic()
        taken = grow(c, 10, 1100)
        log("default: %d replacements of %d bytes before 0x97 (%.1f s)"
            % (taken, BIG, time.monotonic() - t0))
        # a million small messages take a few hundred MB: the rest of
        # the GiB holds some 800 of these, and never more than 1073
        check(500 <= taken <= GIB // BIG,
              "%d replacements of %d bytes under 1 GiB" % (taken, BIG))
        check(pub_q1(c, topic(10), b"small again", 7) < 0x80,
              "a smaller replacement is allowed")
        check(pub_q1(c, topic(11), b"", 8) < 0x80,
              "clearing is allowed")
        check_eq(b.log().count("retained messages at their bound") >= 1,
                 True, "refusals logged")
        for x in (live, c, o):
            x.disconnect()
    return taken


def raised_node(taken_default):
    conf = CONF + ["max_retained_messages %d" % (COUNT + 10),
                   "max_retained_bytes %d" % (GIB + 64 * 1024 * 1024)]
    with Broker(conf=conf, name="raised") as b:
        b.STOP_TIMEOUT = STOP_SECS
        c = raw.Client(b.port, version=V5, timeout=300)
        c.connect("filler")
        fill(c, COUNT)
        for i in range(10):
            check(pub_q1(c, "n/%d" % i, b"more", 1) < 0x80,
                  "new topic %d past the default count" % (i + 1))
        check_eq(pub_q1(c, "n/10", b"no room", 1), QUOTA,
                 "the raised count is a bound too")
        taken = grow(c, 10, 1200)
        log("raised: %d replacements (default: %d)"
            % (taken, taken_default))
        check(taken >= taken_default + 50,
              "64 MiB more lets some 64 more through: %d, default %d"
              % (taken, taken_default))
        c.disconnect()


def test():
    tern_only("max_retained_messages, max_retained_bytes")
    taken = default_node()
    raised_node(taken)


main(test)
