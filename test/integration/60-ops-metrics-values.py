#!/usr/bin/env python3
"""The metrics follow the node: with two MQTT 5 and one 3.1.1 client
connected, tern_connections counts them by version; N QoS 1 messages
to a subscriber add N to published{qos=1} and delivered{qos=1}; a
persistent session offline with max_queued_messages Q that is sent M
more messages has M - Q dropped{reason=queue_full} (and the $SYS
counter says the same), Q queued; the store's commit histogram counts
the commits; sessions online/offline, subscriptions and the process
gauges are right or positive."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import metricsutil as mu  # noqa: E402
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402

N = 25
Q = 3
M = 8


def test():
    tern_only("the HTTP listener")
    # (offline_queue_cache 0: the offline session's queue is on disk
    # only, so that its resume reads it back, which the read histogram
    # counts)
    with Broker(conf=mu.conf() + ["max_queued_messages %d" % Q,
                                  "sys_interval 1",
                                  "offline_queue_cache 0"]) as b:
        listener = "127.0.0.1:%d" % b.port
        m0 = mu.scrape(b.http_port)
        commits0 = m0.get("tern_store_commit_seconds_count")

        # a persistent session goes offline with a queue of Q at most
        off = raw.Client(b.port, version=V311)
        off.connect("mt-off", clean=False)
        off.subscribe("mt/off", qos=1)
        off.disconnect()

        sub = raw.Client(b.port, version=V5)
        sub.connect("mt-sub")
        sub.subscribe("mt/t", qos=1)
        pub = raw.Client(b.port, version=V311)
        pub.connect("mt-pub")
        other = raw.Client(b.port, version=V5)
        other.connect("mt-other")

        m1 = mu.scrape(b.http_port)
        check_eq(m1.get("tern_connections", listener=listener,
                        version="5"), 2.0, "v5 connections")
        check_eq(m1.get("tern_connections", listener=listener,
                        version="3.1.1"), 1.0, "3.1.1 connections")
        check_eq(m1.get("tern_connections", listener=listener,
                        version="3.1"), 0.0, "3.1 connections")
        check_eq(m1.get("tern_sessions", state="online"), 3.0,
                 "sessions online")
        check_eq(m1.get("tern_sessions", state="offline"), 1.0,
                 "sessions offline")
        check_eq(m1.get("tern_subscriptions"), 2.0, "subscriptions")

        for i in range(N):
            pub.publish("mt/t", b"m%02d" % i, qos=1, mid=i + 1)
        for i in range(N):
            got = sub.recv_publish(timeout=5.0)
            check_eq(got.payload, b"m%02d" % i, "message %d" % i)
        for i in range(M):
            pub.publish("mt/off", b"off-%d" % i, qos=1, mid=100 + i)

        m2 = mu.scrape(b.http_port)
        pub1 = m2.get("tern_messages_published_total", qos=1) - \
            m1.get("tern_messages_published_total", qos=1)
        check_eq(pub1, float(N + M), "published{qos=1} grew by N + M")
        dl1 = m2.get("tern_messages_delivered_total", qos=1) - \
            m1.get("tern_messages_delivered_total", qos=1)
        check_eq(dl1, float(N), "delivered{qos=1} grew by N")
        check_eq(m2.get("tern_messages_published_total", qos=2), 0.0,
                 "published{qos=2}")
        check_eq(m2.get("tern_messages_dropped_total", reason="queue_full"),
                 float(M - Q), "dropped{reason=queue_full}")
        check_eq(m2.get("tern_messages_dropped_total", reason="expired"),
                 0.0, "dropped{reason=expired}")
        check_eq(m2.get("tern_queued_messages"), float(Q),
                 "queued messages (the offline session's)")
        check_eq(m2.get("tern_queued_bytes"),
                 float(sum(len(b"off-%d" % i) for i in range(Q))),
                 "queued bytes")
        commits = m2.get("tern_store_commit_seconds_count")
        log("commits: %d then %d" % (commits0, commits))
        check(commits > commits0, "the commit histogram counted commits")
        check(m2.get("tern_store_commit_seconds_sum") > 0,
              "the commits took time")
        check_eq(m2.get("tern_store_commit_failures_total"), 0.0,
                 "no commit failure")
        check(m2.get("process_open_fds") > 3, "open fds")
        check(m2.get("process_resident_memory_bytes") > 1 << 20, "RSS")
        check(m2.get("process_cpu_seconds_total") > 0, "CPU seconds")

        # the $SYS counter is the same one
        with raw.Client(b.port, version=V311) as s:
            s.connect("mt-sys")
            s.subscribe("$SYS/broker/publish/messages/dropped", qos=0)
            # the retained value may be the one of the last second
            for _ in range(3):
                got = s.recv_publish(timeout=5.0)
                if got.payload == b"%d" % (M - Q):
                    break
            check_eq(got.payload, b"%d" % (M - Q), "$SYS dropped")
            s.disconnect()

        for c in (sub, pub, other):
            c.disconnect()
        def none_connected():
            m = mu.scrape(b.http_port)
            return m.sum("tern_connections") == 0 and \
                m.get("tern_sessions", state="offline") == 1.0
        wait_for(none_connected, 5.0, "connections gone")
        # its resume reads its queue back from the store: one read
        reads0 = mu.scrape(b.http_port).get("tern_store_read_seconds_count")
        off = raw.Client(b.port, version=V311)
        off.connect("mt-off", clean=False)
        got = off.recv_publish(timeout=5.0)
        check_eq(got.payload, b"off-0", "the first queued message")
        reads = mu.scrape(b.http_port).get("tern_store_read_seconds_count")
        check(reads > reads0, "the read histogram counted the resume's "
              "read (%d then %d)" % (reads0, reads))
        off.disconnect()
        off = raw.Client(b.port, version=V311)
        off.connect("mt-off", clean=True)
        off.disconnect()


main(test)
