#!/usr/bin/env python3
"""A message refused more than once (a full disk) reaches a subscriber
that was sent a copy by one of the later refused attempts, not the
first, and had not acknowledged it when the node was killed.

The subscriber's window (Receive Maximum 1) is full at the first
attempt, so its copy waits in the queue and goes with the refusal; a
second subscriber is sent that attempt's copy, so the attempt leaves
notes that the later ones take over. The window then opens, the second
attempt is sent to the subscriber and refused too; the third is
acknowledged and passes over the subscriber, which has the second
attempt's copy in flight: that copy's row, lost with the second
attempt's batch, must be written with the third's. kill -9, and the
subscriber gets the message again on resume. Found by the fault soak,
where 3.1.1 publishers' messages refused ~60 times in a row never
reached a subscriber that had a copy in flight. 3.1.1 and 5 publishers
(a 3.1.1 publisher is disconnected instead of answered 0x80); the data
dir is a tmpfs the test mounts and fills (root only)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402
from storeutil import *  # noqa: E402,F401,F403


def attempt(b, pv, pid, topic, msg, mid):
    """Publish msg once from a new connection of pid; returns the reason
    code (0, 0x80) or None when the node closed the connection without
    an answer (3.1.1 on a refusal)."""
    pub = connect_persistent(b.port, pid, pv)
    pub.send(raw.publish(topic, msg, qos=1, mid=mid, version=pv))
    try:
        ack = pub.expect_ack(raw.PUBACK, mid, timeout=5.0)
    except AssertionError as e:
        check(pv == V311 and "closed" in str(e),
              "no PUBACK only as a 3.1.1 refusal: %s" % e)
        return None
    finally:
        pub.close()
    return ack.reason or 0


def one(pv):
    tag = vname(pv).replace(".", "")
    topic = "rc/%s" % tag
    with small_disk_broker(name="chain-" + tag) as (b, disk):
        sub = raw.Client(b.port, version=V5)
        sub.connect("rc-sub-" + tag, clean=False,
                    properties={"session_expiry_interval": 3600,
                                "receive_maximum": 1})
        sub.subscribe([(topic, 1)])
        other = connect_persistent(b.port, "rc-other-" + tag, V5)
        other.subscribe([(topic, 1)])
        pid = "rc-pub-" + tag
        check_eq(attempt(b, pv, pid, topic, b"first", 1), 0, "first")
        first = sub.recv_publish(timeout=5.0, ack=False)
        check_eq(first.payload, b"first", "the window's one message")
        other.recv_publish(timeout=5.0)
        msg = b"chained-" + tag.encode()
        disk.fill()
        # 1: the subscriber's copy waits behind "first"; other's is sent
        r = attempt(b, pv, pid, topic, msg, 2)
        check(r is None or r == 0x80, "first attempt refused: %r" % r)
        check_eq(other.recv_publish(timeout=5.0).payload, msg,
                 "the other subscriber is sent the first attempt")
        # the window opens: the refused copy is gone from the queue
        sub.ack(first)
        sub.expect_none(0.3)
        # 2: sent to the subscriber now, refused again
        r = attempt(b, pv, pid, topic, msg, 3)
        check(r is None or r == 0x80, "second attempt refused: %r" % r)
        p = sub.recv_publish(timeout=5.0, ack=False)
        check_eq(p.payload, msg, "the second attempt reaches the "
                 "subscriber (not acknowledged)")
        other.expect_none(0.3)
        disk.free()
        # 3: acknowledged; both subscribers had it and are passed over
        check_eq(attempt(b, pv, pid, topic, msg, 4), 0,
                 "the third attempt is acknowledged")
        sub.expect_none(0.3)
        other.expect_none(0.3)
        other.close()
        sub.abort()
        crash(b)
        sub = raw.Client(b.port, version=V5)
        ack = sub.connect("rc-sub-" + tag, clean=False,
                          properties={"session_expiry_interval": 3600})
        check_eq(ack.session_present, 1, "the subscriber's session")
        got = []
        while True:
            try:
                p = sub.recv_publish(timeout=1.0)
            except AssertionError:
                break
            got.append((p.payload, p.dup))
            check(len(got) <= 2, "at most two messages: %r" % got)
        log("after kill -9: %r" % got)
        # "first" may come again (QoS 1): its PUBACK's delete was in a
        # batch that failed on the full disk
        check_eq([g for g in got if g[0] != b"first"], [(msg, 1)],
                 "the unacknowledged message after kill -9, once, DUP")
        sub.disconnect()


def away(pv, sv):
    """The subscriber is sent the first attempt, the second passes over
    it (it has the message in flight), and then it goes away without
    acknowledging: its copy is gone with its connection, and the notes
    that said it had the message are now the second attempt's, so they
    must go too, or the third attempt passes over it again."""
    tag = "%s-%s" % (vname(pv).replace(".", ""), vname(sv).replace(".", ""))
    topic = "ra2/%s" % tag
    with small_disk_broker(name="away-" + tag) as (b, disk):
        sub = Receiver(b.port, "ra2-sub-" + tag, version=sv)
        sub.connect(clean=False, expect_present=0)
        sub.subscribe([(topic, 1)])
        pid = "ra2-pub-" + tag
        msg = b"away-twice-" + tag.encode()
        disk.fill()
        r = attempt(b, pv, pid, topic, msg, 1)
        check(r is None or r == 0x80, "first attempt refused: %r" % r)
        p = sub.recv(5.0)
        check_eq((p.type, p.payload), (raw.PUBLISH, msg),
                 "the first attempt reaches the subscriber (not "
                 "acknowledged)")
        r = attempt(b, pv, pid, topic, msg, 2)
        check(r is None or r == 0x80, "second attempt refused: %r" % r)
        sub.expect_quiet(0.3)  # it has the message
        sub.abort()
        disk.free()
        check_eq(attempt(b, pv, pid, topic, msg, 3), 0,
                 "the third attempt is acknowledged")
        sub.connect(clean=False, expect_present=1)
        sub.run_until(lambda r: msg in r.payloads(), 5.0, "the message")
        sub.expect_quiet(0.3)
        sub.end_session()


def test():
    store_only()
    one(V311)
    one(V5)
    away(V311, V5)
    away(V5, V311)


main(test)
