#!/usr/bin/env python3
"""Cluster: a will is routed like any message. A client on n1 with a will
that goes away without DISCONNECT (a mosquitto_sub killed with SIGKILL, a
raw 5.0 client whose socket is reset) has its will published on n1, and
the subscribers on n2 and n3 (and n1) get it, once, with its QoS. A client
that disconnects normally has no will published anywhere."""
import os
import signal
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import Sub, check_eq, main, pub  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import Cluster  # noqa: E402
from storeutil import Receiver  # noqa: E402

_n = [0]


def next_marker(cl, watchers):
    """A QoS 1 marker published on n1 is the next message every watcher
    gets: nothing else came before it."""
    _n[0] += 1
    m = "marker-%d" % _n[0]
    pub(cl[0].port, "will/marker", m, qos=1)
    for w in watchers:
        w.run_until(lambda r: len(r.delivered) >= 1, 10.0, "the marker")
        check_eq([d[1] for d in w.delivered], [m.encode()],
                 "%s: next message is the marker" % w.client_id)
        w.delivered.clear()


def expect_will(watchers, topic, payload, qos):
    for w in watchers:
        w.run_until(lambda r: len(r.delivered) >= 1, 10.0,
                    "the will %s" % topic)
        d = w.delivered.pop(0)
        check_eq((d[0], d[1], d[2]), (topic, payload, qos),
                 "%s: the will (topic, payload, QoS)" % w.client_id)


def test():
    with Cluster(3) as cl:
        watchers = []
        for i, v in ((0, raw.V311), (1, raw.V5), (2, raw.V311)):
            r = Receiver(cl[i].port, "will-watch-%d" % (i + 1), version=v)
            r.connect(clean=True)
            r.subscribe([("will/#", 2)])
            watchers.append(r)

        # a 3.1.1 mosquitto_sub with a will, killed
        ms = Sub(cl[0].port, "will/ready", version=4,
                 client_id="will-killed-311", wait_secs=0,
                 extra=["--will-topic", "will/killed-311",
                        "--will-payload", "died-311", "--will-qos", "1"])
        ms.wait_ready()
        ms.kill(signal.SIGKILL)
        expect_will(watchers, "will/killed-311", b"died-311", 1)
        next_marker(cl, watchers)

        # a 5.0 raw client with a QoS 2 will, socket reset
        c = raw.Client(cl[0].port, version=raw.V5)
        c.connect("will-reset-5", will=("will/reset-5", b"died-5", 2, False))
        c.ping()
        c.abort()
        expect_will(watchers, "will/reset-5", b"died-5", 2)
        next_marker(cl, watchers)

        # a client that disconnects normally: no will anywhere
        c = raw.Client(cl[0].port, version=raw.V5)
        c.connect("will-clean-5", will=("will/clean-5", b"no", 1, False))
        c.ping()
        c.disconnect()
        next_marker(cl, watchers)

        for w in watchers:
            w.disconnect()


main(test)
