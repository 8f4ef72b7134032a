#!/usr/bin/env python3
"""A message that asks for a delivery receipt (receipt-to) and goes out
over a bridge: the remote broker's PUBACK acknowledges the bridge's
forward, not a recipient's device, so no receipt is published for it (as
for a cluster link). A local recipient of the same message still makes
its receipt: exactly one receipt arrives, naming that local client."""
import json
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
from mosqutil import Remote, bridge_conf, wait_bridge_up  # noqa: E402
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402

RT = "im/u/alice/receipts"


def test():
    tern_only("bridges to other brokers")
    with Remote() as r:
        with Broker(conf=bridge_conf(r, "rx", ["im/u/# out 1"])) as b:
            wait_bridge_up(b, "rx")
            with Sub(b.port, RT, qos=1, version=5, wait_secs=10) as rs, \
                    Sub(r.port, "im/u/bob", qos=1, version=5,
                        wait_secs=10) as remote:
                rs.wait_ready()
                remote.wait_ready()
                bob = raw.Client(b.port, version=V5)
                bob.connect("bob", clean=True)
                bob.subscribe("im/u/bob", qos=1)
                alice = raw.Client(b.port, version=V5)
                alice.connect("alice")
                alice.publish("im/u/bob", b"hi", qos=1, properties=[
                    ("user_property", [("receipt-to", RT)])])
                m = bob.expect(raw.PUBLISH, timeout=10)
                bob.send(raw.puback(m.mid, version=V5))
                remote.wait_count(1, timeout=10)
                rs.wait_count(1, timeout=10)
                # the bridge's ack came before or after bob's: give a
                # receipt for it time to show
                time.sleep(1.5)
                got = [json.loads(p) for _, p, _, _ in rs.messages]
                check_eq(len(got), 1, "one receipt: %r" % got)
                check_eq(got[0].get("to"), "bob", "the receipt names the "
                         "local recipient, not the bridge")
                alice.disconnect()
                bob.disconnect()


main(test)
