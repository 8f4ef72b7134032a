#!/usr/bin/env python3
"""max_connection_rate 3: from one address, three CONNECTs in a burst are
accepted, the next ones are refused with CONNACK 0x9F (v5) or return code
3 (3.1.1); another source address is not affected; after a second the
first address is accepted again."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402
import time  # noqa: E402

RATE = 3


def connack(port, version, cid, source=None):
    c = raw.Client(port, version=version, source=source)
    p = c.connect(cid, rc=None)
    return c, p.reason


def test():
    tern_only("max_connection_rate")
    with Broker(conf=["max_connection_rate %d" % RATE]) as b:
        # All CONNECTs sent at once, so that they reach the broker within
        # a few milliseconds, far less than the 1/RATE s a token takes.
        versions = [V311, V5, V311, V5, V311]
        cs = [raw.Client(b.port, version=v) for v in versions]
        for i, c in enumerate(cs):
            c.send(raw.connect("c%d" % i, version=c.version))
        rcs = [c.expect(raw.CONNACK, what="CONNACK %d" % i).reason
               for i, c in enumerate(cs)]
        log("CONNACK codes: %r" % rcs)
        ok = [c for c, rc in zip(cs, rcs) if rc == 0]
        check_eq(len(ok), RATE, "CONNECTs accepted in a burst")
        over = [(c.version, rc) for c, rc in zip(cs, rcs) if rc != 0]
        check(all(rc == (0x9F if v == V5 else 3) for v, rc in over),
              "refusals: 0x9F for v5, 3 for 3.1.1: %r" % over)
        check({v for v, rc in over} == {V5, V311} or len(over) < 2,
              "refused clients of both versions")
        for c, rc in zip(cs, rcs):
            if rc != 0:
                c.wait_closed()
        # Another source address has its own bucket.
        o, rco = connack(b.port, V5, "other", source="127.0.0.2")
        check_eq(rco, 0, "CONNECT from 127.0.0.2")
        o.disconnect()
        # The accepted ones are unaffected.
        for c in ok:
            c.ping()
        b.wait_log("over max_connection_rate")
        # A second refills the bucket.
        time.sleep(1.2)
        n, rcn = connack(b.port, V5, "later")
        check_eq(rcn, 0, "v5 CONNECT after a second")
        n.disconnect()
        n, rcn = connack(b.port, V311, "later3")
        check_eq(rcn, 0, "3.1.1 CONNECT after a second")
        n.disconnect()
        for c in ok:
            c.disconnect()


main(test)
