#!/usr/bin/env python3
"""Review: a session claimed away from a node while it is still moving
there loses the rest of the move.

The client "race-cl" has a persistent session on n1 with N queued QoS 1
messages (offline: rows). It connects to n2, which claims the session:
n1 starts moving it (session, then the messages in chunks through its
forward queue to n2; the link's window is small here, so this takes a
while). Before the move is done the client gives up on n2 and connects
to n3 (a retry through a load balancer, say). n3's claim reaches n2,
which has the session half-moved: claim_in moves what it has to n3 and
frees it. n1 goes on moving the rest to n2, where bridge_deliver_target
finds "no such session" and drops each message -- after n1 deleted its
row. Acknowledged messages are lost.

Expected: every one of the N messages reaches the client on n3 (now, or
after it connects to n2 again); this test accepts either."""
import os
import socket
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, log, main, wait_for  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import Cluster  # noqa: E402
from storeutil import Publisher, payloads  # noqa: E402

N = 2000
PROPS = {"session_expiry_interval": 300}


def collect(c, got, quiet):
    while True:
        try:
            q = c.recv(quiet)
        except (socket.timeout, raw.Closed):
            return
        if q.type == raw.PUBLISH:
            got.add(bytes(q.payload))
            c.send(raw.puback(q.mid, version=raw.V5))


def test():
    conf = ["receive_maximum 10", "max_queued_messages 10000"]
    with Cluster(3, conf=conf, sync_timeout=5000) as cl:
        r = raw.Client(cl[0].port, version=raw.V5)
        r.connect("race-cl", clean=False, properties=PROPS)
        r.subscribe([("race/t", 1)])
        r.disconnect()
        p = Publisher(cl[0].port, "race-pub", version=raw.V5)
        want = list(p.publish_acked("race/t", payloads("race", N), qos=1,
                                    timeout=30.0))
        p.close()
        check_eq(len(want), N, "messages acknowledged on n1")

        # connect to n2; do not wait for its CONNACK
        c2 = raw.Client(cl[1].port, version=raw.V5, timeout=30.0)
        c2.send(raw.connect("race-cl", version=raw.V5, clean=False,
                            properties=PROPS))
        wait_for(lambda: "session race-cl moving here from n1" in
                 cl[1].log(), 10.0, "the move n1 -> n2 started")
        # the client gives up on n2 and tries n3
        c3 = raw.Client(cl[2].port, version=raw.V5, timeout=30.0)
        ack = c3.connect("race-cl", clean=False, properties=PROPS)
        log("CONNACK on n3: present %d" % ack.session_present)
        got = set()
        collect(c3, got, 3.0)
        log("on n3: %d of %d" % (len(got), N))
        if len(got) < N:
            # whatever stayed on n2 is claimed by connecting there again
            c3.close()
            c2.close()
            c2 = raw.Client(cl[1].port, version=raw.V5, timeout=30.0)
            c2.connect("race-cl", clean=False, properties=PROPS)
            collect(c2, got, 3.0)
            c2.close()
            log("after connecting to n2 again: %d of %d" % (len(got), N))
        dropped = cl[1].log().count("no such session")
        log("n2 dropped %d moved messages: 'no such session'" % dropped)
        missing = [w for w in want if w not in got]
        check(not missing, "%d of %d acknowledged messages lost in a move "
              "that a second claim cut short (first missing: %r)"
              % (len(missing), N, missing[:3]))


main(test)
