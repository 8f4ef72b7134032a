#!/usr/bin/env python3
"""Output backpressure through the WebSocket layer: a ws:// client floods
PINGREQs (128 KiB frames) without reading its PINGRESPs. ternd stops
reading it once its MQTT output waits past the pause mark (the bytes not
yet framed count, as on TCP), so the client's sends stall, while other
WebSocket clients are served. Once the client reads, exactly one PINGRESP
comes back for each PINGREQ sent: nothing stays stranded between the
layers when reading resumes."""
import os
import socket
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
import wsutil  # noqa: E402

MiB = 1024 * 1024
FLOOD = 48 * MiB
PINGS = 64 * 1024                   # per frame: 128 KiB of PINGREQ
STALL = 1.0


def other_client_works(port, n):
    o = wsutil.Client(port, version=raw.V5, timeout=10.0)
    o.connect("ws-other-%d" % n)
    o.subscribe("ws/other/%d" % n, qos=1)
    o.publish("ws/other/%d" % n, b"x%d" % n, qos=1)
    check_eq(o.recv_publish(timeout=10.0).payload, b"x%d" % n,
             "other WebSocket client's message")
    o.disconnect()


def test():
    tern_only("output backpressure")
    with Broker(conf=wsutil.listener_conf() + ["log_level info"]) as b:
        port = wsutil.ws_port(b)
        c = wsutil.Client(port, timeout=10.0)
        c.connect("ws-slow-reader")
        c.ping()
        ws, s = c.ws, c.ws.sock
        frame = wsutil.frame(wsutil.OP_BINARY, raw.pingreq() * PINGS)

        # Flood without reading; a frame counts once wholly sent.
        frames, left = 0, b""
        s.settimeout(STALL)
        stalled = False
        while frames * len(frame) < FLOOD:
            if not left:
                left = frame
            try:
                n = s.send(left)
            except socket.timeout:
                stalled = True
                break
            left = left[n:]
            if not left:
                frames += 1
        log("sent %d frames (%.1f MiB) before the stall"
            % (frames, frames * len(frame) / MiB))
        check(stalled, "the broker stopped reading the client before it "
              "sent %d MiB" % (FLOOD // MiB))
        other_client_works(port, 1)

        # Read everything back while finishing the frame under way.
        expected = got = 0
        deadline = time.monotonic() + 120.0
        while left or got < expected:
            if time.monotonic() > deadline:
                raise TestFailure("got %d of %d PINGRESPs (frame pending: "
                                  "%s)" % (got, expected, bool(left)))
            if left:
                s.settimeout(0.05)
                try:
                    n = s.send(left)
                    left = left[n:]
                    if not left:
                        frames += 1
                except socket.timeout:
                    pass
            expected = frames * PINGS
            s.settimeout(0.05 if left else 10.0)
            try:
                d = s.recv(256 * 1024)
            except socket.timeout:
                if left:
                    continue
                raise TestFailure("no more PINGRESP after %d of %d"
                                  % (got, expected))
            if not d:
                raise TestFailure("closed after %d PINGRESPs" % got)
            ws.raw += d
            ws._parse()
            data = bytes(ws.data)
            whole = len(data) // 2 * 2
            check(data[:whole] == b"\xd0\x00" * (whole // 2),
                  "only PINGRESP packets come back (after %d)" % got)
            got += whole // 2
            del ws.data[:whole]
        check_eq(got, expected, "one PINGRESP per PINGREQ")
        c.ping()
        c.disconnect()
        other_client_works(port, 2)


main(test)
