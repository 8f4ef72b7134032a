#!/usr/bin/env python3
"""bench/cluster_probe.py - cluster timings that tern-bench does not take.

  cluster_probe.py subscribe PORT_A PORT_B N
      N times: SUBSCRIBE to a fresh topic on node A, time until the SUBACK
      (which a cluster node holds until every linked node has the route),
      then publish one QoS 1 message on node B at once and check that it
      arrives. Prints the SUBACK time percentiles and the misses.

  cluster_probe.py takeover PORT_A PORT_B N Q
      N times: a persistent session subscribes on node A, goes offline,
      Q QoS 1 messages are queued for it on node A; it then connects to
      node B (PORT_B may equal PORT_A: a local resume, for comparison).
      Times CONNECT -> CONNACK and CONNECT -> the last of the Q messages,
      and checks that all Q arrive, in order.

One line per figure: "name value". Uses the raw client of test/lib.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "test", "lib"))
import mqttraw as raw  # noqa: E402


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100.0))]


def report(name, ms):
    print("%s_p50_ms %.3f" % (name, pct(ms, 50)))
    print("%s_p99_ms %.3f" % (name, pct(ms, 99)))
    print("%s_max_ms %.3f" % (name, max(ms)))


def client(port, cid, clean=True):
    c = raw.Client(port, version=raw.V311, timeout=10.0)
    c.send(raw.connect(cid, version=raw.V311, clean=clean))
    p = c.expect(raw.CONNACK)
    if p.reason != 0:
        raise SystemExit("CONNACK refused: %r" % p)
    return c


def probe_subscribe(pa, pb, n):
    tag = "%d" % os.getpid()
    sub = client(pa, "probe-sub-" + tag)
    pub = client(pb, "probe-pub-" + tag)
    times, missed = [], 0
    for i in range(n):
        topic = "probe/%s/%d" % (tag, i)
        t0 = time.perf_counter()
        sub.send(raw.subscribe(i % 65535 + 1, [(topic, 1)]))
        sub.expect(raw.SUBACK)
        times.append((time.perf_counter() - t0) * 1e3)
        pub.send(raw.publish(topic, b"x", qos=1, mid=i % 65535 + 1))
        pub.expect(raw.PUBACK)
        try:
            p = sub.expect(raw.PUBLISH, timeout=5.0)
            sub.send(raw.puback(p.mid))
        except Exception:  # noqa
            missed += 1
    report("suback", times)
    print("published_after_suback_missed %d" % missed)


def probe_takeover(pa, pb, n, q):
    tag = "%d" % os.getpid()
    connack, last, bad = [], [], 0
    for i in range(n):
        cid = "probe-to-%s-%d" % (tag, i)
        topic = "probe/to/%s/%d" % (tag, i)
        c = client(pa, cid, clean=False)
        c.send(raw.subscribe(1, [(topic, 1)]))
        c.expect(raw.SUBACK)
        c.send(raw.disconnect())
        c.sock.close()
        pub = client(pa, "probe-q-" + tag)
        for k in range(q):
            pub.send(raw.publish(topic, b"%06d" % k, qos=1, mid=k % 65535 + 1))
            pub.expect(raw.PUBACK)
        pub.send(raw.disconnect())
        pub.sock.close()
        t0 = time.perf_counter()
        c = raw.Client(pb, version=raw.V311, timeout=30.0)
        c.send(raw.connect(cid, version=raw.V311, clean=False))
        c.expect(raw.CONNACK)
        connack.append((time.perf_counter() - t0) * 1e3)
        got = []
        while len(got) < q:
            p = c.expect(raw.PUBLISH, timeout=30.0)
            c.send(raw.puback(p.mid))
            got.append(bytes(p.payload))
        last.append((time.perf_counter() - t0) * 1e3)
        if got != [b"%06d" % k for k in range(q)]:
            bad += 1
        c.send(raw.disconnect())
        c.sock.close()
    report("takeover_connack", connack)
    report("takeover_all_%d" % q, last)
    print("takeover_out_of_order %d" % bad)


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "subscribe":
        probe_subscribe(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) >= 6 and sys.argv[1] == "takeover":
        probe_takeover(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
                       int(sys.argv[5]))
    else:
        sys.exit(__doc__)


main()
