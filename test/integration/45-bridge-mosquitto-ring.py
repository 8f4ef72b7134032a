#!/usr/bin/env python3
"""A cycle of bridges ends: tern A bridges out to mosquitto M1 and in from
mosquitto M2, tern B in from M1 and out to M2 (all MQTT 5), so a message
from A goes A -> M1 -> B -> M2 -> A. Its tern-origin mark (A's, kept on
the way) stops it when it comes back to A: a message published on A, and
one on B, reach a subscriber on each of the four brokers once, and no
more for a few seconds after. Without the mark they would go round for
ever."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
from mosqutil import Remote, bridge_conf, wait_bridge_up  # noqa: E402


def test():
    tern_only("bridges to other brokers")
    with Remote("m1") as m1, Remote("m2") as m2:
        ca = (bridge_conf(m1, "m1", ["ring/# out 1"], clientid="a-m1") +
              bridge_conf(m2, "m2", ["ring/# in 1"], clientid="a-m2"))
        cb = (bridge_conf(m1, "m1", ["ring/# in 1"], clientid="b-m1") +
              bridge_conf(m2, "m2", ["ring/# out 1"], clientid="b-m2"))
        with Broker(conf=ca, name="a") as a, Broker(conf=cb, name="b") as b:
            for t in (a, b):
                wait_bridge_up(t, "m1")
                wait_bridge_up(t, "m2")
            m2.wait_log("Received SUBSCRIBE from a-m2")
            m1.wait_log("Received SUBSCRIBE from b-m1")
            time.sleep(0.3)
            subs = {}
            for name, port in (("a", a.port), ("b", b.port),
                               ("m1", m1.port), ("m2", m2.port)):
                subs[name] = Sub(port, "ring/#", qos=1, wait_secs=30,
                                 name="sub-" + name)
            for s in subs.values():
                s.wait_ready()
            pub(a.port, "ring/x", "from-a", qos=1)
            pub(b.port, "ring/x", "from-b", qos=1)
            for s in subs.values():
                s.wait_count(2, timeout=10)
            time.sleep(3)
            for name, s in subs.items():
                check_eq(sorted(s.payloads), ["from-a", "from-b"],
                         "messages at the subscriber on %s" % name)
                s.kill()
            check("left this node before" in a.log(), "A saw its message "
                  "come back and dropped it")


main(test)
