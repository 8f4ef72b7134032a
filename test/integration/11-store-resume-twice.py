#!/usr/bin/env python3
"""A persistent session whose backlog is on disk, resumed by two CONNECTs
that arrive together (a phone retrying while its first attempt is still
in flight; the second takes the first over): the backlog is read back
once, so each QoS 2 message reaches the client once. Before, the read of
the first connection and the read of the second both queued every row:
the client got up to the whole backlog twice, the same packet ids with
DUP after their PUBREL, taken for new messages. Both protocol versions,
with and without a kill -9 before the resume."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from storeutil import *  # noqa: E402,F401,F403

N = 200
ROUNDS = 3


def attempt(b, version, k, kill_first):
    cid = "rt-%d-%d" % (version, k)
    r = Receiver(b.port, cid, version=version)
    r.connect(clean=False)
    r.subscribe([("rt/%s" % cid, 2)])
    r.disconnect()
    if kill_first:
        crash(b)
        r.port = b.port
    p = Publisher(b.port, "rt-pub-" + cid, version=V5)
    want = p.publish_acked("rt/%s" % cid, payloads(cid, N), qos=2)
    p.close()
    props = session_props(version)
    first = raw.Client(b.port, version=version)
    second = raw.Client(b.port, version=version)
    first.send(raw.connect(cid, version=version, clean=False,
                           properties=props))
    second.send(raw.connect(cid, version=version, clean=False,
                            properties=props))
    r.c = second
    second.expect(raw.CONNACK)
    r.run_until(lambda x: len(set(x.payloads())) >= N and
                not x.awaiting_rel, 15.0, "the backlog")
    r.expect_quiet(0.5)
    log("v%d round %d (kill first %s): %d delivered, %d recognised as "
        "duplicates by the client" % (version, k, kill_first,
                                       len(r.payloads()), len(r.dups)))
    check_in_order_once(r.payloads(), want, "v%d round %d: the backlog"
                        % (version, k))
    first.close()
    r.end_session()


def test():
    store_only()
    with Broker() as b:
        k = 0
        for kill_first in (False, True):
            for version in (V311, V5):
                for _ in range(ROUNDS):
                    attempt(b, version, k, kill_first)
                    k += 1


main(test)
