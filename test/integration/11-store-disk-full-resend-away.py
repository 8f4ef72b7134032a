#!/usr/bin/env python3
"""A subscriber that was sent a QoS 1 message whose commit then failed (a
full disk), and went away before acknowledging it, gets the publisher's
resend when it comes back: the refused copy it had is gone with its
connection (its row was in the failed batch), so the resend must not
pass over it as one that had the message. Found by the fault soak, where
such subscribers never got the message. 3.1.1 and 5 subscribers, with
parked sessions on (the default) and off; the data dir is a tmpfs the
test mounts and fills (root only)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402
from storeutil import *  # noqa: E402,F401,F403


def one(b, disk, v, tag):
    sub = Receiver(b.port, "ra-sub-%s-%d" % (tag, v), version=v)
    sub.connect(clean=False, expect_present=0)
    sub.subscribe([("ra/%s/%d" % (tag, v), 1)])
    pub = connect_persistent(b.port, "ra-pub-%s-%d" % (tag, v), V5)
    msg = b"away-%s-%d" % (tag.encode(), v)
    topic = "ra/%s/%d" % (tag, v)
    disk.fill()
    pub.send(raw.publish(topic, msg, qos=1, mid=1, version=V5))
    p = sub.recv(5.0)
    check_eq((p.type, p.payload), (raw.PUBLISH, msg),
             "the refused copy reaches the online subscriber")
    # it goes away without acknowledging
    sub.abort()
    ack = pub.expect_ack(raw.PUBACK, 1, timeout=5.0)
    check_eq(ack.reason, 0x80, "the publisher's ack on a full disk")
    disk.free()
    pub.send(raw.publish(topic, msg, qos=1, mid=2, version=V5))
    ack = pub.expect_ack(raw.PUBACK, 2, timeout=5.0)
    check_eq(ack.reason or 0, 0, "the resend is acknowledged")
    pub.disconnect()
    sub.connect(clean=False, expect_present=1)
    sub.run_until(lambda r: msg in r.payloads(), 5.0, "the message")
    sub.expect_quiet(0.3)
    sub.end_session()


def test():
    store_only()
    for tag, conf in (("parked", []), ("evicted", ["offline_queue_cache 0"])):
        with small_disk_broker(conf=conf, name=tag) as (b, disk):
            one(b, disk, V311, tag)
            one(b, disk, V5, tag)


main(test)
