#!/usr/bin/env python3
"""Keep alive: a client with keep alive 1 s that stays silent is
disconnected (not before ~1 s), while a silent client with keep alive 60
s connected at the same time is still connected: an order, not a time
bound (the machine may be slow); a v5 client gets DISCONNECT 0x8D first;
its will is published."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
import time  # noqa: E402

# ternd enforces 1.5 x keep alive; mosquitto 2.0.11 only checks keep
# alives every ~5 s. The wait is a bound on the test, not an assertion.
WAIT = 30.0


def one(b, version):
    topic = "ka/will/v%d" % version
    s = raw.Client(b.port, version=V311)
    s.connect("ka-sub-%d" % version)
    s.subscribe(topic, qos=1)

    # a silent client with a long keep alive, connected first
    long = raw.Client(b.port, version=version)
    long.connect("ka-long-%d" % version, keepalive=60)
    c = raw.Client(b.port, version=version)
    t0 = time.monotonic()
    c.connect("ka-silent-%d" % version, keepalive=1,
              will=(topic, b"gone", 1, False))
    got = c.wait_closed(WAIT)
    elapsed = time.monotonic() - t0
    log("v%d closed after %.2fs, received %r" % (version, elapsed, got))
    check(elapsed >= 0.9, "closed too early (%.2fs < keep alive)" % elapsed)
    # the long one is still there: it answers a PINGREQ
    long.send(raw.pingreq())
    check_eq(long.recv(5.0).type, raw.PINGRESP,
             "the client with keep alive 60 is still connected")
    long.disconnect()
    if version == V5 and is_mosquitto() and not got:
        log("mosquitto sends no DISCONNECT 0x8D (spec: optional)")
    elif version == V5:
        check(len(got) == 1 and got[0].type == raw.DISCONNECT,
              "v5 client receives one DISCONNECT before close: %r" % got)
        check_eq(got[0].reason, raw.RC_KEEP_ALIVE_TIMEOUT,
                 "DISCONNECT reason")
    else:
        check_eq(got, [], "packets before close (3.1.1)")
    p = s.recv_publish(timeout=3.0)
    check_eq((p.topic, p.payload), (topic, b"gone"), "will message")
    s.disconnect()


def test():
    with Broker() as b:
        # both versions at once: the test takes one keep-alive period
        import threading
        errors = []

        def run(v):
            try:
                one(b, v)
            except BaseException as e:  # noqa
                errors.append(e)
        ts = [threading.Thread(target=run, args=(v,)) for v in (V311, V5)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        if errors:
            raise errors[0]


main(test)
