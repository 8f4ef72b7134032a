#!/usr/bin/env python3
"""Requests are bounded: 1 MB of headers, or a 1 MB body, is refused
without the node holding it, with or without a token; many such
requests leave the node serving /metrics and MQTT, its RSS not grown by
what was sent."""
import os
import socket
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import metricsutil as mu  # noqa: E402
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402

MB = 1 << 20


def send_big(port, head, body=b""):
    """Send head + body; the status line the node answered, or None when
    it closed the connection without one."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5.0)
    try:
        try:
            s.sendall(head + body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                break
            except socket.timeout:
                raise TestFailure("no answer nor close within 5 s")
            if not chunk:
                break
            data += chunk
            if b"\r\n" in data:
                break
        return data.split(b"\r\n", 1)[0] if data else None
    finally:
        s.close()


def test():
    tern_only("the HTTP listener")
    with Broker(conf=mu.conf()) as b:
        rss0 = mu.scrape(b.http_port).get("process_resident_memory_bytes")
        auth = b"Authorization: Bearer %s\r\n" % mu.TOKEN.encode()
        for i in range(5):
            line = send_big(b.http_port, b"GET /metrics HTTP/1.1\r\n"
                            b"Host: x\r\n" + auth + b"X-Big: " +
                            b"a" * MB + b"\r\n\r\n")
            log("1 MB header: %r" % line)
            check(line is None or b" 200 " not in line,
                  "1 MB of headers refused (%r)" % line)
            line = send_big(b.http_port, b"GET /metrics HTTP/1.1\r\n"
                            b"Host: x\r\n" + b"".join(
                                b"X-H%d: %s\r\n" % (n, b"b" * 1000)
                                for n in range(1000)) + b"\r\n")
            log("1000 headers of 1 KB: %r" % line)
            check(line is None or b" 200 " not in line,
                  "1 MB in many headers refused (%r)" % line)
            line = send_big(b.http_port, b"POST /metrics HTTP/1.1\r\n"
                            b"Host: x\r\n" + auth +
                            b"Content-Length: %d\r\n\r\n" % MB, b"c" * MB)
            log("1 MB body: %r" % line)
            check(line is None or b" 200 " not in line,
                  "1 MB body refused (%r)" % line)
        check(b.alive(), "the node is alive")
        m = mu.scrape(b.http_port)
        rss = m.get("process_resident_memory_bytes")
        log("RSS %d -> %d" % (rss0, rss))
        check(rss < rss0 + 8 * MB, "RSS did not grow by what was sent")
        with raw.Client(b.port, version=V5) as c:
            c.connect("ml-after")
            c.disconnect()


main(test)
