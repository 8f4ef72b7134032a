#!/usr/bin/env python3
"""One source address cannot take the whole password-check queue: 70
CONNECTs with wrong passwords from 127.0.0.1, kept open, used to take
all 64 places, and a first login from another address was refused 0x89
Server busy. Now one address holds at most 16 places (its other CONNECTs
are refused 0x89 at once), and a first login from 127.0.0.2 right after
the flood is answered with success."""
import os
import socket
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from authutil import *  # noqa: E402,F401,F403

ITERATIONS = 100000  # the default: about 0.12 s of PBKDF2-SHA512 each
N = 70
PER_SOURCE = 16
RC_SERVER_BUSY = 0x89


def open_from(port, source, client_id, user, password):
    """A CONNECT (v5) sent from source; the socket."""
    s = socket.create_connection(("127.0.0.1", port), timeout=120,
                                 source_address=(source, 0))
    s.sendall(raw.connect(client_id, version=V5, username=user,
                          password=password))
    return s


def connack_reason(s, timeout):
    """The reason code of the CONNACK on s (None: closed or none)."""
    s.settimeout(timeout)
    got = b""
    end = time.monotonic() + timeout
    try:
        while len(got) < 4 and time.monotonic() < end:
            d = s.recv(64)
            if not d:
                break
            got += d
    except socket.timeout:
        return None
    if len(got) < 4 or got[0] != 0x20:
        return None
    return got[3]


def test():
    tern_only("password checks on a worker thread")
    pw = password_file({"quick": "q"})
    set_password(pw, "target", "t", iterations=ITERATIONS)
    set_password(pw, "victim", "right", iterations=ITERATIONS)
    with Broker(conf=["password_file %s" % pw,
                      "connect_timeout 120"]) as b:
        other = raw.Client(b.port, version=V5, timeout=30.0)
        other.connect("other", username="quick", password=b"q")
        flood = [open_from(b.port, "127.0.0.1", "junk-%d" % i, "target",
                           b"wrong") for i in range(N)]
        # every flood CONNECT has been read once a client connected
        # before them has its PINGRESP
        other.ping()
        victim = open_from(b.port, "127.0.0.2", "victim-1", "victim",
                           b"right")
        rc = connack_reason(victim, 120.0)
        log("first login from 127.0.0.2 after the flood: reason %r" % rc)
        check_eq(rc, 0, "a first login from another address, while one "
                 "address flooded the check queue")
        busy = refused = 0
        for s in flood:
            r = connack_reason(s, 120.0)
            if r == RC_SERVER_BUSY:
                busy += 1
            elif r == 0x86:
                refused += 1
            s.close()
        log("flood: %d answered 0x89 at once, %d checked and refused "
            "0x86" % (busy, refused))
        check_eq(busy + refused, N, "every flood CONNECT answered")
        check(refused <= PER_SOURCE + 4,
              "one address had at most about %d checks (%d were checked)"
              % (PER_SOURCE, refused))
        check(refused >= PER_SOURCE,
              "one address still gets its %d checks (%d were checked)"
              % (PER_SOURCE, refused))
        victim.close()
        other.disconnect()


main(test)
