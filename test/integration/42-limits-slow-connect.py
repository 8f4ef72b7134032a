#!/usr/bin/env python3
"""connect_timeout 2: a connection that never sends CONNECT, and one that
sends its CONNECT one byte every 100 ms (slowloris), are both closed at
the deadline counted from the accept: partial data does not extend it.
The CONNECT of the slow one takes about 9 s to send: it must be closed
well before its last byte, while a bystander keeps working."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402

TIMEOUT = 2
STEP = 0.1


def is_closed(sock):
    sock.setblocking(False)
    try:
        d = sock.recv(100)
        return d == b""
    except BlockingIOError:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    finally:
        sock.setblocking(True)


def test():
    tern_only("connect_timeout")
    with Broker(conf=["connect_timeout %d" % TIMEOUT]) as b:
        by = Bystander(b.port)
        pkt = raw.connect("slowloris-" + "x" * 70)
        silent = socket.create_connection((HOST, b.port))
        slow = socket.create_connection((HOST, b.port))
        sent = 0
        t0 = time.monotonic()
        silent_closed_at = slow_closed_at = None
        # One byte per STEP; bounded by the packet's length.
        while sent < len(pkt) and slow_closed_at is None:
            try:
                slow.send(pkt[sent:sent + 1])
                sent += 1
            except (BrokenPipeError, ConnectionResetError):
                slow_closed_at = sent
                break
            time.sleep(STEP)
            if is_closed(slow):
                slow_closed_at = sent
            if silent_closed_at is None and is_closed(silent):
                silent_closed_at = sent
        el = time.monotonic() - t0
        log("packet %d bytes; slow closed after %r bytes, silent after %r"
            % (len(pkt), slow_closed_at, silent_closed_at))
        check(slow_closed_at is not None,
              "slowloris CONNECT sent whole (%d bytes) without a close"
              % len(pkt))
        # About TIMEOUT / STEP bytes fit before the deadline; the close
        # must come near there, not at the end of the packet.
        check(slow_closed_at < len(pkt) - 20,
              "slow CONNECT closed late: after %d of %d bytes"
              % (slow_closed_at, len(pkt)))
        check(el >= TIMEOUT * 0.5, "slow CONNECT closed too early: %.2fs"
              % el)
        if silent_closed_at is None:
            check(is_closed(silent), "silent connection still open")
        b.wait_log("no CONNECT in time")
        silent.close()
        slow.close()
        by.check()
        by.close()


main(test)
