#!/usr/bin/env python3
"""The PBKDF2 check of a first login runs off the event loop: while a
CONNECT of a user whose hash takes about 3.6 s of PBKDF2 is being
checked, a client already connected gets its PINGRESP and its own
messages at once, well before that CONNACK (before this, the whole node
waited for the hash). The slow login then succeeds; a wrong password for
a user not cached yet is refused with 0x86 after its check; once the
right password has passed, the next login of that user is answered from
the cached proof. Bounds: with more than 64 checks waiting (from 8
addresses), a CONNECT that needs one is refused at once with 0x89
Server busy, and the node keeps serving."""
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

SLOW = 3000000  # iterations: about 3.6 s of PBKDF2-SHA512
FLOOD = 100000  # the default count: about 0.12 s each
RC_SERVER_BUSY = 0x89
N_FLOOD = 72


def has_packet(c):
    """1 when c's socket has bytes to read now (nothing is consumed)."""
    c.sock.setblocking(False)
    try:
        return len(c.sock.recv(1, socket.MSG_PEEK)) > 0
    except BlockingIOError:
        return False
    finally:
        c.sock.setblocking(True)


def test():
    tern_only("password checks on a worker thread")
    pw = password_file({"quick": "q"})
    set_password(pw, "slow", "s1owly", iterations=SLOW)
    set_password(pw, "flood", "right", iterations=FLOOD)
    # The flood's last check waits for 63 others: connect_timeout must
    # not close it first on a busy machine.
    with Broker(conf=["password_file %s" % pw,
                      "connect_timeout 120"]) as b:
        other = raw.Client(b.port, version=V5)
        other.connect("other", username="quick", password=b"q")
        other.subscribe("t/echo", qos=1)

        # The first login of "slow": its CONNACK waits for the hash.
        a = raw.Client(b.port, version=V5, timeout=60.0)
        a.send(raw.connect("slow-1", version=V5, username="slow",
                           password=b"s1owly"))
        time.sleep(0.2)
        other.ping(timeout=30.0)
        other.publish("t/echo", b"meanwhile", qos=1)
        p = other.recv_publish(timeout=30.0)
        check_eq(p.payload, b"meanwhile", "a message flows meanwhile")
        check(not has_packet(a),
              "the PINGRESP and the message came before the slow CONNACK")
        ack = a.expect(raw.CONNACK, timeout=60.0, what="slow CONNACK")
        check_eq(ack.reason, 0, "the slow login succeeds")
        a.ping()
        a.disconnect()
        a.close()

        # A wrong password for a user not cached yet: after its check.
        w = raw.Client(b.port, version=V311, timeout=30.0)
        ack = w.connect("flood-bad", username="flood", password=b"wrong",
                        rc=None)
        check_eq(ack.reason, RC311_BAD_USER_OR_PASSWORD,
                 "wrong password (3.1.1, checked off the loop)")
        check_eq(w.wait_closed(5.0), [], "closed after the refusal")
        w.close()

        # Now cached: the next login of "slow" needs no hash.
        a = raw.Client(b.port, version=V311, timeout=2.0)
        a.connect("slow-2", username="slow", password=b"s1owly")
        a.disconnect()
        a.close()

        # A flood of logins needing a check: at most 64 wait. From 8
        # addresses, each under its share of 16 (40-auth-password-fair-
        # share.py tests the share).
        socks = []
        for i in range(N_FLOOD):
            c = raw.Client(b.port, version=V5, timeout=120.0,
                           source="127.0.0.%d" % (1 + i % 8))
            c.send(raw.connect("flood-%d" % i, version=V5,
                               username="flood", password=b"nope"))
            socks.append(c)
        other.ping(timeout=30.0)
        reasons = []
        for c in socks:
            reasons.append(c.expect(raw.CONNACK, timeout=120.0,
                                    what="flood CONNACK").reason)
            c.close()
        busy = reasons.count(RC_SERVER_BUSY)
        log("flood: %d busy, %d bad password" %
            (busy, reasons.count(RC_BAD_USER_OR_PASSWORD)))
        check(busy >= 1, "some logins refused as Server busy")
        check(busy <= N_FLOOD - 64 + 1,
              "no more than the excess refused (%d)" % busy)
        check_eq(busy + reasons.count(RC_BAD_USER_OR_PASSWORD), N_FLOOD,
                 "every other login refused as a wrong password")
        other.ping()
        c = raw.Client(b.port, version=V5, timeout=30.0)
        c.connect("flood-ok", username="flood", password=b"right")
        c.disconnect()
        c.close()
        other.disconnect()
        other.close()


main(test)
