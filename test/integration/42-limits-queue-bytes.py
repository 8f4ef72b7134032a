#!/usr/bin/env python3
"""max_queued_bytes is bounded by default (64 MiB; the key is not set
here): an offline persistent session (store on) is sent 80 QoS 1
messages of 1 MB, all acknowledged to the publisher; when its client
comes back it gets the first 67 (67 MB fit in 64 MiB, 68 do not), in
order, then what is new. With max_queued_bytes raised to 128 MiB the
same session keeps all 80. max_queued_messages (1000) is far from
reached either way."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
from mqttraw import V5  # noqa: E402
from storeutil import *  # noqa: E402,F401,F403

MiB = 1024 * 1024
N = 80
SIZE = 1000000


def run(conf, name, want):
    with Broker(conf=conf, name=name) as b:
        r = Receiver(b.port, "qb-sub", version=V5)
        r.connect(clean=False, expect_present=0)
        r.subscribe([("qb/t", 1)])
        r.disconnect()
        pub = Publisher(b.port, "qb-pub", version=V5)
        msgs = payloads("m", N, size=SIZE)
        acked = pub.publish_acked("qb/t", msgs, qos=1, window=8,
                                  timeout=120)
        check_eq(len(acked), N, "%s: publisher: all acknowledged" % name)
        r.connect(clean=False, expect_present=1)
        r.receive_n(want, timeout=120)
        # its ack waits for a commit behind the deletes of 67-80 MB
        pub.publish_one("qb/t", b"marker", qos=1, timeout=60)
        r.wait_payload(b"marker", timeout=60)
        got = [p[:6] for p in r.payloads()]
        check_eq(got, [p[:6] for p in msgs[:want]] + [b"marker"],
                 "%s: the first %d messages, then the new one"
                 % (name, want))
        pub.close()
        r.disconnect()


def test():
    store_only()
    run([], "default", (64 * MiB) // SIZE)
    run(["max_queued_bytes %d" % (128 * MiB)], "raised", N)


main(test)
