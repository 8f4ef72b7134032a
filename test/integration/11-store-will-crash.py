#!/usr/bin/env python3
"""Durable wills: the will of a persistent session whose client was
connected when the node was killed (kill -9) is published once the node
is back (after its delay: a client that resumes first cancels it); a will
already cleared by a normal DISCONNECT is not; after a clean shutdown
(SIGTERM) no will is published, since the node going down is not the
client going away."""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import Broker, check_eq, main, tern_only  # noqa: E402
import mqttraw as raw  # noqa: E402

V5 = raw.V5
FOREVER = {"session_expiry_interval": 0xFFFFFFFF}


def client(port, cid, will=None, delay=None):
    c = raw.Client(port, version=V5)
    wp = {"will_delay_interval": delay} if delay is not None else None
    c.connect(cid, clean=False, properties=FOREVER, will=will,
              will_properties=wp)
    return c


def wills_at(port, expect, wait):
    """Resume the subscriber; the will payloads it gets within wait s."""
    s = client(port, "wsub")
    got = []
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            p = s.recv(0.2)
        except Exception:  # noqa: timeout
            if len(got) >= expect:
                break
            continue
        if p.type == raw.PUBLISH:
            got.append(bytes(p.payload))
            if p.qos:
                s.send(raw.puback(p.mid, version=V5))
    s.disconnect()
    return sorted(got)


def test():
    tern_only("wills kept in the store")
    with Broker() as b:
        s = client(b.port, "wsub")
        s.subscribe([("w/#", 1)])
        s.disconnect()
        s = client(b.port, "sync")
        s.subscribe([("sync/#", 1)])
        s.disconnect()

        def committed():
            """Everything handled so far is on disk: a QoS 1 message for
            an offline persistent session is acknowledged only after the
            commit that holds it, and commits are in order."""
            p = client(b.port, "syncpub")
            p.publish("sync/x", b"x", qos=1)
            p.disconnect()

        # kept referenced: a closed socket would publish the will now
        a = client(b.port, "a", will=("w/a", b"a gone", 1, False))
        d = client(b.port, "d", will=("w/d", b"d delayed", 1, False),
                   delay=2)
        c = client(b.port, "c", will=("w/c", b"c gone", 1, False))
        c.disconnect()  # normal: its will is cleared
        r = client(b.port, "r", will=("w/r", b"r back in time", 1, False),
                   delay=3)
        committed()  # c's DISCONNECT, the other CONNECTs
        b.kill9()
        b.restart()
        # r comes back within its delay: its will must not go out
        r = client(b.port, "r")
        check_eq(wills_at(b.port, 2, 8.0), [b"a gone", b"d delayed"],
                 "wills published after the kill (c's was cleared, r "
                 "resumed in time)")
        check_eq(wills_at(b.port, 0, 1.0), [],
                 "each will is published once")
        r.disconnect()

        e = client(b.port, "e", will=("w/e", b"e gone", 1, False))
        b.restart(graceful=True)
        check_eq(wills_at(b.port, 0, 2.0), [],
                 "no will after a clean shutdown")
        for x in (a, d, e):
            x.close()


main(test)
