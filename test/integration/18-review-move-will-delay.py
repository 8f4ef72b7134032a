#!/usr/bin/env python3
"""Review: a will with a Will Delay Interval is published when its client
reconnects, within the delay, on another node.

MQTT-3.1.3-9: the will is not published when a new network connection
for the client id comes within the Will Delay Interval (a single node
honours it: 12-v5-will-delay-reconnect). In a cluster the claim closes
the connection on n1 (the will waits on its timer), then the session
moves to n2 and n1 frees it; session_free() publishes a pending delayed
will ("the session ended"), though the session lives on, on n2.

Expected: no will at a subscriber of the will topic (on either node)."""
import os
import socket
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check_eq, log, main  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import Cluster  # noqa: E402


def wills(c, timeout):
    out = []
    while True:
        try:
            p = c.recv(timeout)
        except socket.timeout:
            return out
        if p.type == raw.PUBLISH:
            out.append((p.topic, p.payload))


def test():
    with Cluster(2) as cl:
        watch = [raw.Client(cl[i].port, version=raw.V5) for i in (0, 1)]
        for i, w in enumerate(watch):
            w.connect("wd-watch-%d" % i)
            w.subscribe([("wd/#", 0)])
        kw = dict(clean=False, will=("wd/will", b"gone", 0, False),
                  properties={"session_expiry_interval": 300},
                  will_properties={"will_delay_interval": 60})
        c1 = raw.Client(cl[0].port, version=raw.V5)
        c1.connect("wd-client", **kw)
        c1.subscribe([("wd-own/x", 1)])     # a session worth moving
        c2 = raw.Client(cl[1].port, version=raw.V5)
        ack = c2.connect("wd-client", **kw)
        check_eq(ack.session_present, 1, "session present on n2")
        got = c1.wait_closed(5.0)
        log("old connection got %r" % got)
        seen = wills(watch[0], 3.0) + wills(watch[1], 0.5)
        check_eq(seen, [], "wills published though the client came back "
                 "(on n2) within its Will Delay Interval")
        c2.disconnect()
        for w in watch:
            w.disconnect()


main(test)
