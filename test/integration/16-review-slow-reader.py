#!/usr/bin/env python3
"""Backpressure on a client that sends without reading: a raw 3.1.1
client floods PINGREQs (up to 64 MiB) and never reads its PINGRESPs.
ternd stops reading it once more than 4 MiB of output waits (and resumes
below 1 MiB), so the client's sends stall, the broker's memory (VmRSS)
stays bounded, other clients keep working throughout, and once the
client reads it gets exactly one PINGRESP for each PINGREQ it sent, and
nothing else. tern-only (mosquitto buffers without limit)."""
import os
import socket
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

MiB = 1024 * 1024
FLOOD = 64 * MiB           # the most the client tries to send
CHUNK = raw.pingreq() * (64 * 1024)    # 128 KiB of PINGREQ
# without backpressure the broker would hold ~64 MiB of PINGRESP; with it,
# about 4 MiB (plus what its input buffer held when it paused)
RSS_GROWTH_LIMIT = 32 * MiB
RSS_GROWTH_LIMIT_ASAN = 64 * MiB   # ASan keeps freed memory in quarantine
STALL = 1.0                # a send blocked this long: the broker stopped
PINGRESP = b"\xd0\x00"


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise HarnessError("no VmRSS for pid %d" % pid)


def is_asan_build():
    try:
        with open(ternd_path(), "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def other_client_works(port, n):
    """A fresh client connects, subscribes, gets its own message, pings."""
    o = raw.Client(port, version=V5, timeout=10.0)
    o.connect("slow-other-%d" % n)
    o.subscribe("slow/other/%d" % n, qos=1)
    o.publish("slow/other/%d" % n, b"x%d" % n, qos=1)
    m = o.recv_publish(timeout=10.0)
    check_eq(m.payload, b"x%d" % n, "other client's message")
    o.ping(timeout=10.0)
    o.disconnect()


def test():
    tern_only("output backpressure")
    limit = RSS_GROWTH_LIMIT_ASAN if is_asan_build() else RSS_GROWTH_LIMIT
    with Broker(conf=["log_level info"]) as b:
        by = Bystander(b.port)
        c = raw.Client(b.port, version=V311)
        # (no tiny SO_RCVBUF: a window of a few bytes would make TCP
        # itself crawl once the client reads)
        c.connect("slow-reader")
        c.ping()
        rss0 = rss(b.pid)
        peak = rss0

        # flood without reading, until the broker stops reading us
        sent = 0
        stalled = False
        view = memoryview(CHUNK)
        c.sock.settimeout(STALL)
        next_check = 0
        while sent < FLOOD:
            off = sent % len(CHUNK)
            try:
                n = c.sock.send(view[off:])
            except socket.timeout:
                stalled = True
                break
            sent += n
            if sent >= next_check:
                peak = max(peak, rss(b.pid))
                next_check = sent + 4 * MiB
        peak = max(peak, rss(b.pid))
        log("sent %.1f MiB of PINGREQ before the stall (stalled: %s); "
            "broker VmRSS %.1f -> %.1f MiB"
            % (sent / MiB, stalled, rss0 / MiB, peak / MiB))
        check(stalled, "the broker stopped reading the client before it "
              "sent %d MiB" % (FLOOD // MiB))

        # the rest of the broker works while the flooder is stuck
        by.check()
        other_client_works(b.port, 1)
        # ... and the broker does not grow while it is stuck
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            peak = max(peak, rss(b.pid))
            time.sleep(0.1)
        log("broker VmRSS peak %.1f MiB (start %.1f MiB, limit +%d MiB)"
            % (peak / MiB, rss0 / MiB, limit // MiB))
        check(peak - rss0 < limit, "broker VmRSS grew by %.1f MiB (limit "
              "%d MiB)" % ((peak - rss0) / MiB, limit // MiB))

        # a half PINGREQ may be pending: complete it
        c.sock.settimeout(10.0)
        if sent % 2:
            c.sock.sendall(CHUNK[1:2])
            sent += 1
        expected = (sent // 2) * len(PINGRESP)

        # now read: one PINGRESP per PINGREQ, nothing else
        bufsize = 256 * 1024
        pattern = PINGRESP * (bufsize // 2 + 1)
        got = 0
        deadline = time.monotonic() + 60.0
        while got < expected:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure("got %d of %d bytes of PINGRESP"
                                  % (got, expected))
            c.sock.settimeout(min(left, 10.0))
            try:
                d = c.sock.recv(bufsize)
            except socket.timeout:
                raise TestFailure("no more PINGRESP after %d of %d bytes"
                                  % (got, expected))
            if not d:
                raise TestFailure("connection closed after %d of %d bytes "
                                  "of PINGRESP" % (got, expected))
            # every byte is part of a PINGRESP, aligned on got
            start = got % 2
            check(d == pattern[start:start + len(d)],
                  "only PINGRESP packets come back (at byte %d)" % got)
            got += len(d)
            if got // (16 * MiB) != (got - len(d)) // (16 * MiB):
                by.check()
        check_eq(got, expected, "bytes of PINGRESP")
        log("received %d PINGRESP for %d PINGREQ" % (got // 2, sent // 2))
        c.expect_none(0.3)
        # the connection is still fine
        c.ping(timeout=10.0)
        c.subscribe("slow/self", qos=1)
        c.publish("slow/self", b"me", qos=1, mid=2)
        m = c.recv_publish(timeout=10.0)
        check_eq(m.payload, b"me", "the flooder's own message")
        c.disconnect()
        by.check()
        other_client_works(b.port, 2)
        by.close()


main(test)
