#!/usr/bin/env python3
"""A PUBLISH whose topic is not valid UTF-8 (or contains U+0000) is
malformed: the connection is closed (v5: DISCONNECT 0x81), nothing is
delivered; other clients keep working. SUBSCRIBE with such a filter too."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    with Broker() as b:
        by = Bystander(b.port)
        watch = raw.Client(b.port)
        watch.connect("utf8-watch")
        watch.subscribe("#", qos=0)
        bad_topics = [b"bad/\xc3\x28", b"bad/\xff", b"bad/\xed\xa0\x80",
                      b"bad/nul\x00x"]
        for version in (V311, V5):
            for t in bad_topics:
                body = raw.u16(len(t)) + t
                if version == V5:
                    body += b"\x00"
                pkt = raw.packet(raw.PUBLISH, 0, body + b"payload")
                expect_rejected(b.port, pkt, version=version,
                                disconnect_rc=raw.RC_MALFORMED,
                                what="PUBLISH topic %r" % t)
                sub = raw.u16(len(t)) + t + b"\x00"
                body = raw.u16(1) + (b"\x00" if version == V5 else b"") + sub
                expect_rejected(b.port, raw.packet(raw.SUBSCRIBE, 2, body),
                                version=version,
                                disconnect_rc=raw.RC_MALFORMED,
                                what="SUBSCRIBE filter %r" % t)
            by.check()
        # nothing with a bad topic reached the '#' watcher: only the
        # bystander checks
        while True:
            try:
                m = watch.recv_publish(timeout=0.2)
            except AssertionError:
                break
            check(m.topic.startswith("bystander/"), "unexpected message on "
                  "%r" % m.topic)
        watch.disconnect()
        by.close()


main(test)
