#!/usr/bin/env python3
"""A persistent session's backlog is read back from the store in chunks,
asynchronously, when it resumes (persist.c). Another CONNECT for the
same client id that takes the session over while such a read is on its
way (held there with TERN_TEST_STORE_HOLD_READS until the CONNACKs
came):

- Clean Start 1 (v5) / clean session 1 (3.1.1): nothing of the backlog
  reaches the new session, whose rows the read does not hold. Its first
  connection subscribes, publishes to itself and leaves at once; a
  third connection resumes it (v5) at once, while the old read still
  waits. Before the fix, that read answered as the new session's own (a
  session's generation counter started at 0 in every new session, and
  the new one's first eviction made it 1, as the old one's had been):
  the old session's first message went to the new session. Both see
  only their own messages: a marker published after the third's SUBACK
  is the last PUBLISH before the PINGRESP to a PINGREQ sent after the
  marker's PUBACK, which a stored copy of the marker holds until its
  commit, after every read queued before. The backlog is gone from the
  store too: a later resume gets only what was published after it.
- Clean Start 0 / clean session 0: the whole backlog, with what the
  first connection took: each QoS 2 message delivered once, in order;
  each QoS 1 message at least once, in order of first delivery.

20,000 messages, QoS 1 and QoS 2 mixed; the takeover comes right behind
the first CONNECT (the first chunk's read on its way) or once the first
connection has taken 300 messages (a later chunk's, if the read-back
is not over). Both protocol versions; and right behind the first
CONNECT after a kill -9 too (a session loaded at start-up had no
generation of its own yet, as a new session)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from storeutil import *  # noqa: E402,F401,F403

N = 20000
BLOCK = 500  # QoS 1 and QoS 2 alternate by blocks of this many
TAKEN = 300  # messages the first connection takes, in the later case
WITNESS = "tr-witness"


class Hold:
    """While held, the store's queue reads wait (the jobs behind them
    too): TERN_TEST_STORE_HOLD_READS names a file, held while it
    exists."""

    def __init__(self):
        self.path = tmp_path("hold-reads")
        os.environ["TERN_TEST_STORE_HOLD_READS"] = self.path

    def hold(self):
        open(self.path, "w").close()

    def release(self):
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def backlog(port, topic, cid):
    """N messages published to topic while its subscriber is away, QoS 1
    and QoS 2 alternating by BLOCK; [(qos, payload)] in order."""
    p = Publisher(port, "tr-pub", version=V5)
    want = []
    for i in range(0, N, 2 * BLOCK):
        for qos in (1, 2):
            pl = payloads("%s-q%d-%05d" % (cid, qos, i), BLOCK)
            p.publish_acked(topic, pl, qos=qos, window=256, timeout=60.0)
            check_eq(p.refused, [], "messages of the backlog refused")
            want += [(qos, x) for x in pl]
    p.close()
    return want


def publish_marker(port, topic, payload):
    p = Publisher(port, "tr-pub", version=V5)
    p.publish_acked(topic, [payload], qos=1, timeout=30.0)
    p.close()


def until_pingresp(r):
    """PINGREQ; handle what comes before the PINGRESP; those PUBLISHes'
    (topic, payload)."""
    start = len(r.delivered)
    r.c.send(raw.pingreq())
    while True:
        p = r.recv(30.0)
        if p.type == raw.PINGRESP:
            break
        r.handle(p)
    return [(d[0], d[1]) for d in r.delivered[start:]]


def fresh(b, hold, r, cid, topic, version, what):
    """A second connection takes the session over with clean start,
    subscribes, publishes to itself and leaves at once; a third resumes
    the new session at once; then the held read goes on. Neither gets
    anything of the backlog, now or after a resume."""
    after = topic + "/after"
    props = session_props(version)
    second = raw.Client(b.port, version=version)
    second.send(raw.connect(cid, version=version, clean=True,
                            properties=props) +
                raw.subscribe(1, [(after, 1)], version=version) +
                raw.publish(after, b"own", qos=1, mid=1, version=version) +
                raw.disconnect(version))
    ack = second.expect(raw.CONNACK, timeout=30.0, what="second CONNACK")
    check_eq(ack.session_present, 0, "%s: second CONNACK session present"
             % what)
    # After that CONNACK: the second CONNECT went first, and the rest
    # of it (one segment) with it.
    third = raw.Client(b.port, version=version)
    third.send(raw.connect(cid, version=version, clean=False,
                           properties=props))
    ack = third.expect(raw.CONNACK, timeout=30.0, what="third CONNACK")
    check_eq(ack.session_present, 1 if version == V5 else 0, "%s: third "
             "CONNACK session present" % what)
    hold.release()
    got = [(p.topic, p.payload) for p in second.wait_closed(30.0)
           if p.type == raw.PUBLISH]
    log("%s: the second connection got %s" % (what, summary(got)))
    check_eq([x for x in got if x[0] == topic], [], "%s: the backlog on "
             "the clean session's first connection" % what)
    r.c = third
    r.awaiting_rel.clear()
    r.subscribe([(after, 1)])
    marker = b"marker-1"
    publish_marker(b.port, after, marker)
    got = until_pingresp(r)
    log("%s: the third connection got, before the PINGRESP: %s"
        % (what, summary(got)))
    check_eq([x for x in got if x[0] == topic], [], "%s: the backlog on "
             "the clean session's second connection" % what)
    check(got[-1:] == [(after, marker)] and
          set(got) <= {(after, marker), (after, b"own")},
          "%s: the clean session's second connection got its own "
          "message maybe, then the marker, and nothing else: %s"
          % (what, summary(got)))
    r.disconnect()
    # Gone from the store as well: a resume reads back only what came
    # after (older rows would be read first).
    r.connect(clean=False)
    r.subscribe([(after, 1)])
    r.disconnect()
    marker = b"marker-2"
    publish_marker(b.port, after, marker)
    r.connect(clean=False, expect_present=1)
    start = len(r.delivered)
    r.run_until(lambda x: marker in x.payloads()[start:], 30.0,
                "the marker after the resume")
    got = [(d[0], d[1]) for d in r.delivered[start:]]
    got += until_pingresp(r)
    check_eq([x for x in got if x[0] == topic], [], "%s: the backlog "
             "after a resume of the clean session" % what)
    check_eq(got[-1:], [(after, marker)], "%s: a resume of the clean "
             "session" % what)


def resumed(b, hold, r, cid, want, version, what):
    """A second connection takes the session over with clean start 0;
    then the held read goes on. It gets all of the backlog, QoS 2 once,
    QoS 1 at least once."""
    second = raw.Client(b.port, version=version)
    second.send(raw.connect(cid, version=version, clean=False,
                            properties=session_props(version)))
    ack = second.expect(raw.CONNACK, timeout=30.0, what="second CONNACK")
    check_eq(ack.session_present, 1, "%s: second CONNACK session present"
             % what)
    hold.release()
    r.c = second
    want_set = set(x[1] for x in want)

    def all_in(x):
        return (len(x.delivered) >= len(want) and not x.awaiting_rel and
                want_set <= set(x.payloads()))

    r.run_until(all_in, 120.0, "the backlog")
    until_pingresp(r)
    q2 = [d[1] for d in r.delivered if d[2] == 2]
    check_in_order_once(q2, [x[1] for x in want if x[0] == 2],
                        "%s: QoS 2" % what)
    q1 = [d[1] for d in r.delivered if d[2] == 1]
    firsts = list(dict.fromkeys(q1))
    check_in_order_once(firsts, [x[1] for x in want if x[0] == 1],
                        "%s: QoS 1, first deliveries" % what)
    log("%s: %d delivered, %d QoS 1 again, %d QoS 2 recognised as "
        "duplicates" % (what, len(r.delivered), len(q1) - len(firsts),
                        len(r.dups)))


def one(b, hold, version, clean, taken, kill_first, k):
    cid = "tr-%d" % k
    what = "v%s, %s, taken over %s%s" % (
        vname(version), "clean" if clean else "not clean",
        "after %d messages" % taken if taken else "at once",
        ", after a kill -9" if kill_first else "")
    topic = "tr/" + cid
    r = Receiver(b.port, cid, version=version)
    r.connect(clean=False)
    r.subscribe([(topic, 2)])
    r.disconnect()
    want = backlog(b.port, topic, cid)
    if kill_first:
        crash(b)
    if not taken:
        hold.hold()
    first = raw.Client(b.port, version=version)
    first.send(raw.connect(cid, version=version, clean=False,
                           properties=session_props(version)))
    if taken:
        r.c = first
        ack = first.expect(raw.CONNACK, what="first CONNACK")
        check_eq(ack.session_present, 1, "%s: first CONNACK session "
                 "present" % what)
        r.receive_n(taken, 30.0)
        hold.hold()
    log("%s: the first connection took %d" % (what, len(r.delivered)))
    try:
        if clean:
            fresh(b, hold, r, cid, topic, version, what)
        else:
            resumed(b, hold, r, cid, want, version, what)
    finally:
        hold.release()
    first.close()
    r.end_session()


def test():
    store_only()
    hold = Hold()
    with Broker(conf=["max_queued_messages %d" % (2 * N)]) as b:
        # A persistent subscriber of every marker, away: each marker is
        # stored, and its PUBACK waits for its commit.
        w = Receiver(b.port, WITNESS, version=V5)
        w.connect(clean=False)
        w.subscribe([("tr/+/after", 1)])
        w.disconnect()
        k = 0
        for kill_first in (False, True):
            for version in (V311, V5):
                for clean in (True, False):
                    for taken in (0,) if kill_first else (0, TAKEN):
                        one(b, hold, version, clean, taken, kill_first, k)
                        k += 1


main(test)
