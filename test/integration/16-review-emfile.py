#!/usr/bin/env python3
"""Out of file descriptors (EMFILE), ternd pauses accepting instead of
spinning: with RLIMIT_NOFILE 40 and 60 idle TCP connections (no CONNECT)
it logs "accept failed" a handful of times (once per pause), uses little
CPU while the listening socket stays readable, keeps serving the clients
it has, and accepts again once descriptors are free.

The limit is put on the running broker with prlimit(2) (the harness has
no hook to start ternd with a preexec_fn; the effect is the same for the
descriptors it opens afterwards). tern-only."""
import os
import resource
import socket
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

NOFILE = 40
IDLE = 60
WINDOW = 3.0          # seconds of EMFILE observed
MAX_ACCEPT_LINES = 20
MAX_CPU = 1.0         # CPU seconds over WINDOW


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def n_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def accept_failures(b):
    return sum(1 for line in b.log().splitlines() if "accept failed" in line)


def test():
    tern_only("accept pause on EMFILE")
    # connect_timeout well above the test: the idle connections stay
    with Broker(conf=["connect_timeout 60"]) as b:
        # clients connected before: they must keep working
        sub = raw.Client(b.port, version=V311)
        sub.connect("emfile-sub")
        sub.subscribe("emfile/t", qos=1)
        pub = raw.Client(b.port, version=V311)
        pub.connect("emfile-pub")

        fds = n_fds(b.pid)
        log("broker has %d descriptors open; limiting it to %d"
            % (fds, NOFILE))
        check(fds + 5 < NOFILE, "room for a few connections below the "
              "limit (%d open)" % fds)
        resource.prlimit(b.pid, resource.RLIMIT_NOFILE, (NOFILE, NOFILE))

        before = accept_failures(b)
        idle = []
        try:
            for _ in range(IDLE):
                idle.append(socket.create_connection((HOST, b.port),
                                                     timeout=5.0))
            cpu0 = cpu_seconds(b.pid)
            t0 = time.monotonic()
            # the window: the broker is out of descriptors with
            # connections waiting in the backlog; other clients work
            n = 0
            while time.monotonic() - t0 < WINDOW:
                n += 1
                pub.publish("emfile/t", b"m%d" % n, qos=1, mid=n)
                m = sub.recv_publish(timeout=5.0)
                check_eq(m.payload, b"m%d" % n, "message during EMFILE")
                time.sleep(0.2)
            cpu = cpu_seconds(b.pid) - cpu0
            lines = accept_failures(b) - before
            log("over %.1fs out of descriptors: %d 'accept failed' lines, "
                "%.2fs of CPU, %d descriptors open"
                % (WINDOW, lines, cpu, n_fds(b.pid)))
            check(lines >= 1, "the broker ran out of descriptors (no "
                  "'accept failed' in its log)")
            check(lines <= MAX_ACCEPT_LINES, "%d 'accept failed' lines in "
                  "%.0fs (at most %d)" % (lines, WINDOW, MAX_ACCEPT_LINES))
            check(cpu < MAX_CPU, "broker used %.2fs of CPU in %.0fs out of "
                  "descriptors" % (cpu, WINDOW))
        finally:
            for s in idle:
                s.close()

        # descriptors free again: a new client gets in (bounded wait: the
        # pause lasts a second, the closed sockets must be reaped first)
        c = raw.Client(b.port, version=V5, timeout=10.0)
        c.connect("emfile-after")
        c.subscribe("emfile/after", qos=1)
        c.publish("emfile/after", b"back", qos=1)
        m = c.recv_publish(timeout=5.0)
        check_eq(m.payload, b"back", "new client works")
        c.disconnect()
        # and the old ones still do
        pub.publish("emfile/t", b"end", qos=1, mid=1000)
        check_eq(sub.recv_publish(timeout=5.0).payload, b"end",
                 "old clients still work")
        # a few more connections in a row: accepting really resumed
        for i in range(5):
            c = raw.Client(b.port, version=V311, timeout=10.0)
            c.connect("emfile-more-%d" % i)
            c.ping()
            c.disconnect()
        pub.disconnect()
        sub.disconnect()


main(test)
