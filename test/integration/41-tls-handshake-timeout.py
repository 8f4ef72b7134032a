#!/usr/bin/env python3
"""connect_timeout covers the TLS handshake: a TCP connection to a TLS
port that never sends a ClientHello, or stops half way through one, is
closed within connect_timeout; a TLS client connected meanwhile is
unaffected."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402
import tlsutil  # noqa: E402


def closed_after(sock, t0, limit):
    sock.settimeout(max(0.1, t0 + limit - time.monotonic()))
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise TestFailure("connection still open after %.1fs" % limit)
    return time.monotonic() - t0


def test():
    tern_only("TLS listener keys")
    ca = tlsutil.CA()
    crt, key, _ = ca.issue("server", HOST)
    conf = tlsutil.listener_conf(crt, key) + ["connect_timeout 1"]
    with Broker(conf=conf) as b:
        ok = raw.Client(b.port, ssl_context=tlsutil.client_context(ca.crt))
        ok.connect("patient", keepalive=60)
        t0 = time.monotonic()
        silent = socket.create_connection((HOST, b.port))
        half = socket.create_connection((HOST, b.port))
        # The start of a TLS 1.2 ClientHello record, then nothing.
        half.sendall(bytes.fromhex("160303010001"))
        for s, what in ((silent, "no ClientHello"),
                        (half, "half a ClientHello")):
            el = closed_after(s, t0, 4.0)
            log("%s: closed after %.2fs" % (what, el))
            check(el >= 0.5, "%s: closed too early (%.2fs)" % (what, el))
            s.close()
        ok.ping()
        ok.disconnect()
        b.wait_log("no CONNECT in time")


main(test)
