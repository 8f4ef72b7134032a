#!/usr/bin/env python3
"""When tern closes a connection for a protocol error while the client is
still sending, the client learns why: the DISCONNECT (v5, here 0x81 for a
PUBLISH with QoS 3) is followed by an orderly end of file, not a reset
that would throw it away (a lingering close: tern reads and drops what
still arrives, half-closes, then closes). 3.1.1 gets the end of file.
The sending client sees no reset and no broken pipe.
The client keeps writing 2 MiB after the bad packet; whatever it wrote
before reading is dropped by the broker, and the broker stays up."""
import os
import socket
import sys
import threading
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def once(port, version):
    c = raw.Client(port, version=version)
    c.connect("linger-%d" % version)
    bad = b"\x36" + raw.publish("l/t", b"x", qos=1, mid=1,
                                version=version)[1:]  # QoS 3
    filler = raw.publish("l/t", b"f" * 60000, qos=0, version=version)
    errors = []

    def sender():
        try:
            c.sock.sendall(bad)
            for _ in range(2 * 1024 * 1024 // len(filler)):
                c.sock.sendall(filler)
        except OSError as e:
            errors.append(e)
    t = threading.Thread(target=sender, daemon=True)
    t.start()
    data = b""
    end = None
    c.sock.settimeout(10.0)
    while end is None:
        try:
            chunk = c.sock.recv(65536)
        except ConnectionResetError:
            end = "reset"
            break
        except socket.timeout:
            end = "timeout"
            break
        if not chunk:
            end = "eof"
            break
        data += chunk
    t.join(10.0)
    c.sock.close()
    log("v%d: received %r then %s; sender errors %r"
        % (version, data[:16], end, errors))
    check_eq(end, "eof", "v%d: how the connection ended" % version)
    check_eq(errors, [], "v%d: errors of the client still sending (a "
             "reset or a broken pipe)" % version)
    if version == V5:
        check(data[:1] == b"\xe0" and len(data) >= 3 and data[2] == 0x81,
              "v5: a DISCONNECT 0x81 before the end, got %r" % data[:8])
    else:
        check_eq(data, b"", "3.1.1: nothing before the end")


def test():
    tern_only("mosquitto 2.0.11 closes at once")
    with Broker() as b:
        by = Bystander(b.port)
        for version in (V311, V5):
            once(b.port, version)
            by.check()
        by.close()


main(test)
