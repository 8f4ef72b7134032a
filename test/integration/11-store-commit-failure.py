#!/usr/bin/env python3
"""A failed store commit (TERN_TEST_FAIL_COMMITS=3: the first 3 non-empty
commits fail as a full disk would) is never acknowledged as success: a
v5 publisher gets PUBACK / PUBREC with reason 0x80 and stays connected, a
3.1.1 publisher is disconnected without a PUBACK. The broker keeps
serving (a connected subscriber stays connected and gets the later
messages); once the failures are used up, publishes are acknowledged
normally and those survive kill -9: the persistent subscriber gets each
acknowledged message exactly once, in order."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from storeutil import *  # noqa: E402,F401,F403

FAILS = 3
REFUSED = [b"A-fail", b"B-fail", b"E-first"]


def test():
    store_only()
    with Broker() as b:
        sub = Receiver(b.port, "cf-sub", version=V5)
        sub.connect(clean=False, expect_present=0)
        sub.subscribe([("cf/t", 2)])
        sub.disconnect()
        b.stop()
        with fail_commits(FAILS):
            b.start()
        sub.port = b.port

        watch = Receiver(b.port, "cf-watch", version=V311)
        watch.connect(clean=True)
        watch.subscribe([("cf/t", 2)])

        p5 = Publisher(b.port, "cf-pub-5", version=V5)
        check_eq(p5.publish_one("cf/t", b"A-fail", qos=1), 0x80,
                 "v5 PUBACK reason of a message whose commit failed")
        check_eq(p5.publish_one("cf/t", b"B-fail", qos=2), 0x80,
                 "v5 PUBREC reason of a message whose commit failed")

        p3 = raw.Client(b.port, version=V311)
        p3.connect("cf-pub-4")
        p3.send(raw.publish("cf/t", b"E-first", qos=1, mid=1))
        got = p3.wait_closed(5.0)
        check(not any(p.type == raw.PUBACK for p in got),
              "3.1.1 publisher: no PUBACK for a message whose commit "
              "failed, got %r" % got)

        # the failures are used up: acknowledged normally from now on
        p3 = Publisher(b.port, "cf-pub-4", version=V311)
        check_eq(p3.publish_one("cf/t", b"E-retry", qos=1), 0,
                 "3.1.1 publish after the failures")
        check_eq(p5.publish_one("cf/t", b"C", qos=1), 0,
                 "v5 QoS 1 publish on the same connection after the "
                 "failures")
        check_eq(p5.publish_one("cf/t", b"D", qos=2), 0,
                 "v5 QoS 2 publish after the failures")
        acked = [b"E-retry", b"C", b"D"]

        watch.wait_payload(b"D")
        wp = watch.payloads()
        check_eq([x for x in wp if x not in REFUSED], acked,
                 "connected clean subscriber: messages")
        log("connected subscriber got %r" % wp)
        log("broker log lines about the failure: %r"
            % [l for l in b.log().splitlines() if "failed" in l][:4])

        crash(b)
        sub.connect(clean=False, expect_present=1)
        sub.run_until(lambda r: b"D" in r.payloads() and
                      not r.awaiting_rel, 5.0, "the acknowledged messages")
        got = sub.payloads()
        log("persistent subscriber got %r" % got)
        check_in_order_once([x for x in got if x not in REFUSED], acked,
                            "persistent subscriber after kill -9")
        check_eq(len(got), len(set(got)), "no message twice")
        pub = Publisher(b.port, "cf-marker")
        pub.publish_one("cf/t", b"marker", qos=1)
        sub.wait_payload(b"marker")
        sub.expect_quiet(0.2)
        sub.end_session()


main(test)
