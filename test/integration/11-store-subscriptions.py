#!/usr/bin/env python3
"""Durability of subscriptions: a persistent session's subscriptions
(with their QoS, v5 subscription identifier and No Local option) and its
unsubscriptions survive kill -9 of ternd while the client is offline:
messages published after the restart are queued by the restored
subscriptions and delivered on reconnect, in order, at the granted QoS;
the removed subscription matches nothing. The kill comes once a message
queued to the sessions after their (un)subscriptions was acknowledged
(the store commits in order); a kill right after the SUBACK/UNSUBACK is
11-store-suback-durable.py."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from storeutil import *  # noqa: E402,F401,F403

NO_LOCAL = 0x04


def test():
    store_only()
    with Broker() as b:
        subs = {}
        for v in (V311, V5):
            r = Receiver(b.port, "subs-%d" % v, version=v)
            r.connect(clean=False, expect_present=0)
            pre = "subs/%d/" % v
            r.subscribe([(pre + "+/a", 1)], mid=1,
                        properties={"subscription_identifier": 42}
                        if v == V5 else None)
            r.subscribe([(pre + "b", 2), (pre + "gone", 2),
                         ("subs/fence", 1)], mid=2)
            if v == V5:
                r.subscribe([(pre + "nl", 1 | NO_LOCAL)], mid=3)
            r.c.unsubscribe([pre + "gone"], mid=4)
            r.disconnect()
            subs[v] = r
        pub = Publisher(b.port, "subs-pub", version=V311)
        pub.publish_one("subs/fence", b"fence", qos=1)
        crash(b)

        pub = Publisher(b.port, "subs-pub", version=V5)
        for v in (V311, V5):
            pre = "subs/%d/" % v
            pub.publish_one(pre + "gone", b"unsubscribed", qos=1)
            pub.publish_one(pre + "x/a", b"one", qos=1)
            pub.publish_one(pre + "b", b"two", qos=2)
            pub.publish_one(pre + "y/a", b"three", qos=2)   # granted 1
        for v in (V311, V5):
            r = subs[v]
            pre = "subs/%d/" % v
            r.connect(clean=False, expect_present=1)
            got = r.receive_n(4)
            check_eq([(t, p, q) for t, p, q, _, _ in got],
                     [("subs/fence", b"fence", 1),
                      (pre + "x/a", b"one", 1), (pre + "b", b"two", 2),
                      (pre + "y/a", b"three", 1)],
                     "v%d: queued by the restored subscriptions" % v)
            if v == V5:
                ids = [p.props.get("subscription_identifier")
                       for p in r.packets if p.type == raw.PUBLISH]
                check_eq(ids, [None, [42], None, [42]],
                         "v5: subscription identifiers after the restart")
                # No Local was kept: its own message does not come back
                r.c.send(raw.publish(pre + "nl", b"own", qos=1, mid=77,
                                     version=V5))
                r.run_until(lambda r: any(a[:2] == (raw.PUBACK, 77)
                                          for a in r.own_acks),
                            3.0, "PUBACK of its own message")
                check(r.own_acks[-1][2] in (0, 0x10), "PUBACK reason %r"
                      % (r.own_acks[-1],))
            pub.publish_one(pre + "b", b"marker", qos=1)
            r.wait_payload(b"marker")
            payloads_seen = r.payloads()
            check_eq(payloads_seen, [b"fence", b"one", b"two", b"three",
                                     b"marker"],
                     "v%d: deliveries" % v)
            r.end_session()
        pub.close()


main(test)
