#!/usr/bin/env python3
"""A resume reads its backlog from the store as the client takes it, not
all at once: 3,000 messages queued for an offline persistent session; it
comes back with Receive Maximum 10 and acknowledges nothing for a
while. The node then reads one or two chunks (256 rows each: counted by
tern_store_read_seconds_count), not all twelve, and the admin API says
the rest is queued, each message counted once. As it acknowledges, the rest comes, in
order, each message once; then a v3.1.1 session (its window is the
node's max_inflight_messages_v311, here 20) the same way."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402
import apiutil as api  # noqa: E402
import metricsutil as mu  # noqa: E402
from storeutil import *  # noqa: E402,F401,F403

N = 3000
CHUNK = 256


def reads(b):
    return int(mu.scrape(b.http_port).get("tern_store_read_seconds_count"))


def one(b, v, cid):
    topic = "paced/%s" % cid
    sub = raw.Client(b.port, version=v)
    props = {"session_expiry_interval": 3600} if v == V5 else None
    sub.connect(cid, clean=False, properties=props)
    sub.subscribe([(topic, 1)])
    sub.disconnect()
    want = payloads(cid, N)
    p = Publisher(b.port, cid + "-pub", version=V5)
    p.publish_acked(topic, want, qos=1, window=256, timeout=60)
    p.close()
    before = reads(b)
    sub = raw.Client(b.port, version=v)
    if v == V5:
        props = {"session_expiry_interval": 3600, "receive_maximum": 10}
    ack = sub.connect(cid, clean=False, properties=props)
    check_eq(ack.session_present, 1, "session present")
    window = 10 if v == V5 else 20
    held = [sub.recv_publish(timeout=10.0, ack=False) for _ in range(window)]
    check_eq([h.payload for h in held], want[:window], "the first window")
    sub.expect_none(0.5)  # the window is full
    n_reads = reads(b) - before
    log("%s: %d queue reads with %d messages in flight" % (cid, n_reads,
                                                           window))
    check(1 <= n_reads <= 2, "%s: one or two chunks read while the client "
          "takes nothing (%d reads of %d rows; all of it is %d)"
          % (cid, n_reads, CHUNK, (N + CHUNK - 1) // CHUNK))
    queued = api.get(b.http_port, "clients/" + cid)["queued"]
    check_eq(queued, N - window, "%s: queued, in memory and on disk, each "
             "once (not counting the window in flight)" % cid)
    got = [h.payload for h in held]
    for h in held:
        sub.ack(h)
    deadline = time.monotonic() + 60
    while len(got) < N:
        check(time.monotonic() < deadline, "%s: the rest in time (%d of "
              "%d)" % (cid, len(got), N))
        got.append(sub.recv_publish(timeout=10.0).payload)
    check_in_order_once(got, want, cid)
    sub.expect_none(0.3)
    n_reads = reads(b) - before
    check(n_reads >= N // CHUNK, "%s: %d reads for %d messages"
          % (cid, n_reads, N))
    sub.disconnect()


def test():
    store_only()
    with Broker(conf=list(mu.conf()) +
                ["max_queued_messages 100000", "offline_queue_cache 0",
                 "max_inflight_messages_v311 20"]) as b:
        one(b, V5, "paced5")
        one(b, V311, "paced311")


main(test)
