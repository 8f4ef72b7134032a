#!/usr/bin/env python3
"""A persistent session whose resume is cut while its queue is still
being read back from the store (the read held on its way by the test
hook TERN_TEST_STORE_HOLD_READS) counts each queued message once: 2,000
queued, 300 received and acknowledged, the connection dropped while the
next read waits; the admin API then says 1,700 queued (it said 2,644:
the rows read into memory were counted on disk as well, and the queue
limits of an offline session drop messages at that count). The rest
then arrives in order."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402
import apiutil as api  # noqa: E402
from storeutil import *  # noqa: E402,F401,F403

N = 2000
FIRST = 300


def test():
    store_only()
    hold = tmp_path("hold")
    os.environ["TERN_TEST_STORE_HOLD_READS"] = hold
    with Broker(conf=["max_queued_messages 100000",
                      "offline_queue_cache 0"] + api.conf()) as b:
        r = Receiver(b.port, "cnt", version=V5)
        r.connect(clean=False, expect_present=0)
        r.subscribe([("c/t", 1)])
        r.disconnect()
        want = payloads("m", N)
        p = Publisher(b.port, "cnt-pub", version=V5)
        p.publish_acked("c/t", want, qos=1, window=256, timeout=60)
        p.close()
        r.connect(clean=False, expect_present=1)
        got = [d[1] for d in r.receive_n(FIRST, 30)]
        # its PUBACKs are read (a PINGRESP comes after them) before the
        # connection is reset, which could lose them in the kernel
        r.c.send(raw.pingreq())
        deadline = time.monotonic() + 10
        while r.recv(5.0).type != raw.PINGRESP:
            check(time.monotonic() < deadline, "PINGRESP")
        # the next chunk's read waits while the file exists
        open(hold, "w").close()
        r.abort()
        wait_for(lambda: not api.get(b.http_port, "clients/cnt")["online"],
                 10.0, "the session offline")
        os.unlink(hold)
        queued = api.get(b.http_port, "clients/cnt")["queued"]
        check_eq(queued, N - FIRST, "queued after a resume cut mid read")
        r.connect(clean=False, expect_present=1)
        r.run_until(lambda x: want[-1] in x.payloads(), 30.0, "the rest")
        rest = r.payloads()[FIRST:]
        check_in_order_once([x for x in rest if x not in got], want[FIRST:],
                            "the rest")
        r.end_session()


main(test)
