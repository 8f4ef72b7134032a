#!/usr/bin/env python3
"""A session, subscription or unsubscription that ternd has acknowledged
(CONNACK, SUBACK, UNSUBACK) to a persistent client survives a kill -9
that comes right after the acknowledgement: on reconnect the session is
present, the subscription matches and the removed one does not. (Stricter
than ordering the writes: here no later acknowledged publish forces the
commit.) With store_sync normal and full."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from storeutil import *  # noqa: E402,F401,F403


def one(b, v, sync):
    pre = "sd/%s/%d/" % (sync, v)
    r = Receiver(b.port, "sd-%s-%d" % (sync, v), version=v)
    r.connect(clean=False, expect_present=0)
    r.subscribe([(pre + "keep", 1), (pre + "gone", 1)])
    r.c.unsubscribe([pre + "gone"], mid=2)
    crash(b)       # at once after the UNSUBACK, the client still connected
    r.connect(clean=False, expect_present=1)
    pub = Publisher(b.port, "sd-pub", version=V5)
    pub.publish_one(pre + "gone", b"unsubscribed", qos=1)
    pub.publish_one(pre + "keep", b"kept", qos=1)
    r.wait_payload(b"kept")
    check_eq(r.payloads(), [b"kept"], "v%d store_sync %s: deliveries"
             % (v, sync))
    r.end_session()
    pub.close()


def test():
    store_only()
    for sync in ("normal", "full"):
        with Broker(conf=["store_sync %s" % sync], name=sync) as b:
            for v in (V311, V5):
                one(b, v, sync)


main(test)
