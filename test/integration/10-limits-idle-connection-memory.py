#!/usr/bin/env python3
"""An idle connection costs little memory: 2,000 MQTT 5 clients connect
and stay idle, and the broker's resident memory grows by less than
IDLE_MAX bytes per connection.

What an idle plain TCP connection holds is its struct conn and its
session: no input or output buffer (they are allocated only while bytes
wait, broker/sock.c), no bufferevent, no event of its own (sock.c's epoll
set), none of the side structures of the cluster, a durable session or a
CONNECT's checks (struct session_cluster, session_durable, conn_aux). The
bound is set for the sanitizer build that `make check` runs, with ASan's
quarantine off (ASan pads every allocation): there libevent's
bufferevent, its two buffers and a timer per connection measured 3.5 KB
per connection, sock.c's transport with the timer wheel (wheel.c) 1.6
KB, and with the side structures and the epoll set 0.95 KB; an -O2 build
measures 2.05, 1.08 and 0.64 KB (docs/BENCHMARKS.md, `tern-bench conn`).
It is memory, not time: it does not depend on the machine's load."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
import socket  # noqa: E402

N = 2000
GROUP = 20
IDLE_MAX = 1300  # bytes per idle connection (sanitizer build)


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for %d" % pid)


def open_idle(port, n, tag):
    """n connected MQTT 5 clients (CONNACK read), as bare sockets, made
    GROUP at a time as clients come in practice (a thousand CONNECTs in
    one loop pass would measure that pass's output buffers too)."""
    socks = []
    for g in range(0, n, GROUP):
        group = []
        for i in range(g, min(n, g + GROUP)):
            s = socket.create_connection((HOST, port), timeout=5.0)
            s.sendall(raw.connect("%s-%d" % (tag, i), version=raw.V5,
                                  keepalive=600))
            group.append(s)
        for s in group:
            d = b""
            while len(d) < 2 or len(d) < 2 + d[1]:
                chunk = s.recv(64)
                check(chunk != b"", "connection closed before its CONNACK")
                d += chunk
            check_eq(d[0], 0x20, "CONNACK")
        socks += group
    return socks


def test():
    tern_only("memory per connection")
    # ASan keeps freed memory in quarantine (256 MiB by default): the
    # CONNECTs' short-lived allocations would be counted.
    os.environ["ASAN_OPTIONS"] = ":".join(
        o for o in (os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=0")
        if o)
    with Broker() as b:
        # Warm up: the loop's, the allocator's and the listener's first
        # allocations are not a connection's.
        warm = open_idle(b.port, 200, "warm")
        before = rss(b.pid)
        socks = open_idle(b.port, N, "idle")
        after = rss(b.pid)
        per = (after - before) / N
        log("RSS %d -> %d bytes: %.0f bytes per idle connection"
            % (before, after, per))
        check(per < IDLE_MAX, "%.0f bytes per idle connection, more than "
              "%d" % (per, IDLE_MAX))
        for s in socks + warm:
            s.close()


if __name__ == "__main__":
    main(test)
