#!/usr/bin/env python3
"""max_topic_length 20: a topic of 20 bytes passes; a longer PUBLISH
topic gets DISCONNECT 0x90 (v5) or a close (3.1.1), a longer filter 0x8F
(v5) or 0x80 (3.1.1) in SUBACK, a longer will topic CONNACK 0x90."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402

MAX = 20
OK = "a/" + "b" * (MAX - 2)
LONG = OK + "c"


def test():
    tern_only("max_topic_length")
    with Broker(conf=["max_topic_length %d" % MAX]) as b:
        by = Bystander(b.port)
        s = raw.Client(b.port, version=V5)
        s.connect("s5")
        a = s.subscribe([(OK, 1), (LONG, 1), ("a/#", 0)], mid=1)
        check_eq(a.codes, [1, 0x8F, 0], "v5 SUBACK codes")
        s3 = raw.Client(b.port, version=V311)
        s3.connect("s3")
        a = s3.subscribe([(OK, 0), (LONG, 0)], mid=1)
        check_eq(a.codes, [0, 0x80], "3.1.1 SUBACK codes")

        p = raw.Client(b.port, version=V5)
        p.connect("p5")
        p.publish(OK, b"fits", qos=1)
        m = s.recv_publish()
        check_eq((m.topic, m.payload), (OK, b"fits"), "topic at the limit")
        p.send(raw.publish(LONG, b"too long", qos=1, mid=2, version=V5))
        got = p.wait_closed()
        check(any(x.type == raw.DISCONNECT and x.reason == 0x90
                  for x in got), "DISCONNECT 0x90 for a long topic: %r"
              % got)
        p3 = raw.Client(b.port, version=V311)
        p3.connect("p3")
        p3.send(raw.publish(LONG, b"too long", qos=0))
        p3.wait_closed()
        s.expect_none(0.3)

        w = raw.Client(b.port, version=V5)
        w.send(raw.connect("w5", version=V5, will=(LONG, b"x", 0, False)))
        ack = w.expect(raw.CONNACK)
        check_eq(ack.reason, 0x90, "CONNACK for a long will topic")
        w.close()
        by.check()
        for x in (s, s3, by):
            x.close()


main(test)
