#!/usr/bin/env python3
"""The ack gate keeps a client's acknowledgements in order, whatever each
one waits for (MQTT-4.6.0-2..4: a client matches them to what it sent).
On a cluster one of whose other nodes has just stalled (SIGSTOP: its link
stays up and carries nothing), a SUBSCRIBE that adds a route has its
SUBACK held for the route's confirmation, until the stalled node counts
as silent (1.5 s without an answer) or cluster_sync_timeout; a QoS 1
PUBLISH and a QoS 2 PUBLISH sent right behind it, which wait for nothing
themselves, are answered after that SUBACK, never before. Both protocol
versions, each stalling a node of its own."""
import os
import signal
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, log, main  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import Cluster  # noqa: E402

SYNC_MS = 5000


def round_(cl, version, stalled):
    c = raw.Client(cl[0].port, version=version)
    c.connect("ao-%d" % version)
    stalled.signal(signal.SIGSTOP)
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
    # the SUBACK did wait (unheld, all three come within milliseconds)
    check(waited >= 0.2, "v%d: the SUBACK was held (%.2f s)"
          % (version, waited))
    c.disconnect()


def test():
    # each round stalls a node that has not been stalled before, so that
    # it answers its link when the round begins
    with Cluster(3, sync_timeout=SYNC_MS) as cl:
        for version, i in ((raw.V311, 1), (raw.V5, 2)):
            try:
                round_(cl, version, cl[i])
            finally:
                cl[i].signal(signal.SIGCONT)


main(test)
