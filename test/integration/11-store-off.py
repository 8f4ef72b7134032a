#!/usr/bin/env python3
"""store off: no tern.db (nor its WAL or lock file) in the data dir;
persistent sessions, their queues and retained messages work in memory
as before, and nothing survives a kill -9 and restart."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from storeutil import *  # noqa: E402,F401,F403


def no_db(b, what):
    names = [n for n in os.listdir(b.data_dir) if n.startswith("tern.db")]
    check_eq(names, [], "%s: store files in the data dir" % what)


def test():
    store_only()
    with Broker(conf=["store off"]) as b:
        no_db(b, "at start-up")
        subs = []
        for v in (V311, V5):
            r = Receiver(b.port, "off-sub-%d" % v, version=v)
            r.connect(clean=False, expect_present=0)
            r.subscribe([("off/t", 2)])
            r.disconnect()
            subs.append(r)
        pub = Publisher(b.port, "off-pub", version=V5)
        pl = payloads("off", 20)
        pub.publish_acked("off/t", pl, qos=2)
        pub.publish_one("off/ret", b"retained", qos=1, retain=True)
        # in memory, the sessions work as before
        r = subs[0]
        r.connect(clean=False, expect_present=1)
        check_eq([d[1] for d in r.receive_n(len(pl))], pl,
                 "queued messages without a store")
        r.wait_payload(pl[-1])
        r.disconnect()
        pub.publish_acked("off/t", payloads("lost", 5), qos=1)
        no_db(b, "after traffic")

        crash(b)
        no_db(b, "after the restart")
        for r in subs:
            r.connect(clean=False, expect_present=0)
            r.expect_quiet(0.2)
            r.end_session()
        c = raw.Client(b.port, version=V5)
        c.connect("off-ret")
        c.subscribe([("off/ret", 1), ("off/none", 1)])
        c.expect_none(0.2)
        c.disconnect()


main(test)
