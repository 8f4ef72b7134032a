#!/usr/bin/env python3
"""A plain MQTT client talking to a TLS port is closed at once (the
handshake fails on its CONNECT, logged at info with the peer address and
the mbedTLS error); so is a client that completes the handshake and then
sends bytes that are not TLS records. The node keeps serving TLS clients
and the plain listener next to it."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
import socket  # noqa: E402
import tlsutil  # noqa: E402
import time  # noqa: E402


def test():
    tern_only("TLS listener keys")
    ca = tlsutil.CA()
    crt, key, _ = ca.issue("server", HOST)
    ctx = tlsutil.client_context(ca.crt)
    conf = tlsutil.listener_conf(crt, key) + ["listener 0 %s" % HOST]
    with Broker(conf=conf) as b:
        check_eq(len(b.listeners), 2, "two listeners")
        tls_port, plain_port = b.listeners[0][1], b.listeners[1][1]
        by = raw.Client(tls_port, ssl_context=ctx)
        by.connect("tls-bystander")
        by.subscribe("by/+", qos=1)

        t0 = time.monotonic()
        c = raw.Client(tls_port)
        c.send(raw.connect("plain-on-tls"))
        got = c.wait_closed(3.0)
        el = time.monotonic() - t0
        c.close()
        check(not any(p.type == raw.CONNACK for p in got),
              "no CONNACK for a plain client: %r" % (got,))
        check(el < 2.0, "closed at once, not by a timeout (%.2fs)" % el)
        b.wait_log("TLS handshake failed")
        line = [ln for ln in b.log().splitlines()
                if "TLS handshake failed" in ln][0]
        check(" info: " in line and "127.0.0.1:" in line and "SSL - " in
              line, "info line with peer and mbedTLS error: %r" % line)

        # A handshake, a CONNECT, then garbage under the TLS layer.
        g = raw.Client(tls_port, ssl_context=ctx)
        g.connect("garbage-after-handshake")
        fd = g.sock.detach()
        plain = socket.socket(fileno=fd)
        plain.sendall(b"\x17\x03\x03\x00\x20" + bytes(range(32)))
        plain.settimeout(3.0)
        try:
            while plain.recv(4096):
                pass
        except ConnectionResetError:
            pass
        except socket.timeout:
            raise TestFailure("a bad record did not close the connection")
        plain.close()
        b.wait_log("TLS read failed")

        # TLS and plain clients are still served.
        p = raw.Client(tls_port, ssl_context=ctx)
        p.connect("tls-pub")
        p.publish("by/tls", b"over-tls", qos=1)
        p.disconnect()
        m = by.recv_publish(timeout=3.0)
        check_eq(m.payload, b"over-tls", "TLS bystander still served")
        q = raw.Client(plain_port)
        q.connect("plain-pub")
        q.publish("by/plain", b"over-tcp", qos=1)
        q.disconnect()
        m = by.recv_publish(timeout=3.0)
        check_eq(m.payload, b"over-tcp", "plain listener still served")
        by.disconnect()


main(test)
