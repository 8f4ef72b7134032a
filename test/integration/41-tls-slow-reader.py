#!/usr/bin/env python3
"""Output backpressure through TLS: a TLS client floods PINGREQs without
reading its PINGRESPs. ternd stops reading it once its plaintext output
waits past the pause mark, so the client's sends stall, while other TLS
clients are served. Once the client reads, exactly one PINGRESP comes back
for each PINGREQ sent: nothing stays stranded in the TLS layer when
reading resumes."""
import os
import socket
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
import tlsutil  # noqa: E402

MiB = 1024 * 1024
FLOOD = 48 * MiB
CHUNK = raw.pingreq() * (64 * 1024)    # 128 KiB of PINGREQ
STALL = 1.0
PINGRESP = b"\xd0\x00"


def other_client_works(port, ctx, n):
    o = raw.Client(port, version=raw.V5, ssl_context=ctx, timeout=10.0)
    o.connect("tls-other-%d" % n)
    o.subscribe("tls/other/%d" % n, qos=1)
    o.publish("tls/other/%d" % n, b"x%d" % n, qos=1)
    check_eq(o.recv_publish(timeout=10.0).payload, b"x%d" % n,
             "other TLS client's message")
    o.disconnect()


def test():
    tern_only("output backpressure")
    ca = tlsutil.CA()
    crt, key, _ = ca.issue("server", HOST)
    ctx = tlsutil.client_context(ca.crt)
    conf = tlsutil.listener_conf(crt, key) + ["log_level info"]
    with Broker(conf=conf) as b:
        c = raw.Client(b.port, ssl_context=ctx, timeout=10.0)
        c.connect("tls-slow-reader")
        c.ping()
        s = c.sock

        # Flood without reading. A write that times out stays pending in
        # OpenSSL and must be retried with the same data; it then counts
        # once, whole.
        sent, pending = 0, False
        s.settimeout(STALL)
        while sent < FLOOD:
            try:
                s.send(CHUNK)
            except socket.timeout:
                pending = True
                break
            sent += len(CHUNK)
        log("sent %.1f MiB of PINGREQ before the stall" % (sent / MiB))
        check(pending, "the broker stopped reading the client before it "
              "sent %d MiB" % (FLOOD // MiB))
        other_client_works(b.port, ctx, 1)

        got, expected, last_try = 0, 0, 0.0
        pattern = PINGRESP * (128 * 1024 + 1)
        deadline = time.monotonic() + 120.0
        while pending or got < expected:
            now = time.monotonic()
            if now > deadline:
                raise TestFailure("got %d of %d bytes of PINGRESP "
                                  "(write pending: %s)"
                                  % (got, expected, pending))
            if pending and now - last_try > 0.2:
                last_try = now
                s.settimeout(0.05)
                try:
                    s.send(CHUNK)
                    sent += len(CHUNK)
                    pending = False
                    expected = sent
                except socket.timeout:
                    pass
            s.settimeout(0.05 if pending else 10.0)
            try:
                d = s.recv(256 * 1024)
            except socket.timeout:
                if pending:
                    continue
                raise TestFailure("no more PINGRESP after %d of %d bytes"
                                  % (got, expected))
            if not d:
                raise TestFailure("closed after %d bytes of PINGRESP" % got)
            start = got % 2
            check(d == pattern[start:start + len(d)],
                  "only PINGRESP packets come back (at byte %d)" % got)
            got += len(d)
        check_eq(got, expected, "one PINGRESP per PINGREQ")
        c.ping()
        c.disconnect()
        other_client_works(b.port, ctx, 2)


main(test)
