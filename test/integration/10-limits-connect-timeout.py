#!/usr/bin/env python3
"""connect_timeout 1: a TCP connection that never sends CONNECT, or
sends only part of one, is closed within a bound; others keep working."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
import socket  # noqa: E402
import time  # noqa: E402


def closed_within(sock, t0, limit):
    sock.settimeout(max(0.1, t0 + limit - time.monotonic()))
    try:
        while True:
            d = sock.recv(100)
            if not d:
                break
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise TestFailure("connection still open after %.1fs" % limit)
    return time.monotonic() - t0


def test():
    tern_only("connect_timeout")
    with Broker(conf=["connect_timeout 1"]) as b:
        by = Bystander(b.port)
        t0 = time.monotonic()
        silent = socket.create_connection((HOST, b.port))
        t1 = time.monotonic()
        partial = socket.create_connection((HOST, b.port))
        partial.sendall(raw.connect("partial")[:5])
        for s, t, what in ((silent, t0, "silent"),
                           (partial, t1, "partial CONNECT")):
            el = closed_within(s, t, 4.0)
            log("%s connection closed after %.2fs" % (what, el))
            check(el >= 0.5, "%s closed too early: %.2fs" % (what, el))
            s.close()
        by.check()
        by.close()


main(test)
