#!/usr/bin/env python3
"""A weak network does not make a client flap (presence_topic, default
presence_debounce of 10 s).

A persistent v5 client connects through the fault proxy; its connection
is cut every 2 s for 60 s and it reconnects at once each time. A watcher
connected directly sees its one online at the start and nothing else:
no offline (and no second online) during the minute nor for more than
the debounce after it. Then the connection is cut and the client stays
away: the offline with reason "closed" comes, about 10 s later (so the
watcher would have seen one, had the broker published it)."""
import json
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402
from v5util import recv_or_none  # noqa: E402

FLAP_FOR = 60.0
CUT_EVERY = 2.0
DEBOUNCE = 10


def connect(port):
    """Connect through the proxy, bounded: the first tries may meet the
    reset of the previous cut."""
    deadline = time.time() + 10
    while True:
        try:
            c = raw.Client(port, version=V5)
            c.connect("phone", clean=False,
                      properties={"session_expiry_interval": 3600})
            return c
        except (OSError, AssertionError, raw.ProtocolError, raw.Closed):
            if time.time() > deadline:
                raise
            time.sleep(0.05)


def status(p):
    check_eq(p.topic, "im/p/phone", "presence topic")
    return json.loads(p.payload.decode())


def test():
    tern_only("presence_topic")
    with Broker(conf=["presence_topic im/p/%c"]) as b, \
            FaultProxy(b.port) as proxy:
        w = raw.Client(b.port, version=V5)
        w.connect("watcher")
        w.subscribe("im/p/#", qos=1)
        c = connect(proxy.port)
        p = w.recv_publish(timeout=5.0)
        check_eq(status(p)["status"], "online", "the first online")

        start = time.time()
        cuts = 0
        seen = []
        while time.time() - start < FLAP_FOR:
            # Watch while the connection lives.
            until = time.time() + CUT_EVERY
            while time.time() < until:
                p = recv_or_none(w, max(0.01, until - time.time()))
                if p is not None:
                    w.ack(p)
                    seen.append(status(p))
            proxy.cut()
            cuts += 1
            c.close()
            c = connect(proxy.port)
        log("%d cuts in %.1f s" % (cuts, time.time() - start))
        check(cuts >= FLAP_FOR / CUT_EVERY - 2, "cut every 2 s (%d)" % cuts)
        # A pending offline would fire within the debounce of the last cut.
        until = time.time() + DEBOUNCE + 2
        while time.time() < until:
            p = recv_or_none(w, max(0.01, until - time.time()))
            if p is not None:
                w.ack(p)
                seen.append(status(p))
        check_eq(seen, [], "nothing published while it flapped")

        proxy.cut()
        c.close()
        gone = time.time()
        p = w.recv_publish(timeout=DEBOUNCE + 5)
        j = status(p)
        check_eq((j["status"], j["reason"]), ("offline", "closed"),
                 "the offline once it stays away")
        check(time.time() - gone >= DEBOUNCE - 1,
              "after the debounce (%.1f s)" % (time.time() - gone))
        w.disconnect()


main(test)
