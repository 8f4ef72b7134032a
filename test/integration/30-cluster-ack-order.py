#!/usr/bin/env python3
"""The ack gate keeps a client's acknowledgements in order, whatever each
one waits for (MQTT-4.6.0-2..4: a client matches them to what it sent).
On a 2-node cluster whose other node is stalled (SIGSTOP: its link stays
up and carries nothing), a SUBSCRIBE that adds a route has its SUBACK
held for the route's confirmation, at most cluster_sync_timeout; a QoS 1
PUBLISH and a QoS 2 PUBLISH sent right behind it, which wait for nothing
themselves, are answered after that SUBACK, never before. Both protocol
versions."""
import os
import signal
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, log, main  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import Cluster  # noqa: E402

SYNC_MS = 1500


def round_(port, version):
    c = raw.Client(port, version=version)
    c.connect("ao-%d" % version)
    c.send(raw.subscribe(1, [("ao/new/%d" % version, 1)], version=version)
           + raw.publish("ao/none", b"q1", qos=1, mid=2, version=version)
           + raw.publish("ao/none", b"q2", qos=2, mid=3, version=version))
    t0 = time.monotonic()
    got = []
    while len(got) < 3:
        p = c.recv(SYNC_MS / 1000.0 + 10.0)
        got.append((p.type, p.mid))
    waited = time.monotonic() - t0
    log("v%d: %r after %.2fs" % (version, got, waited))
    check_eq([t for t, _ in got], [raw.SUBACK, raw.PUBACK, raw.PUBREC],
             "v%d: order of the acks" % version)
    c.disconnect()


def test():
    with Cluster(2, sync_timeout=SYNC_MS) as cl:
        cl[1].signal(signal.SIGSTOP)
        try:
            for version in (raw.V311, raw.V5):
                round_(cl[0].port, version)
        finally:
            cl[1].signal(signal.SIGCONT)
        check("SUBACK to" in cl[0].log(), "n1 logged the SUBACK it sent "
              "before n2 confirmed (the SUBACK did wait)")


main(test)
