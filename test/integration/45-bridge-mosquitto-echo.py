#!/usr/bin/env python3
"""Both, no echo: two tern nodes bridge the same topics both ways to one
mosquitto (A over MQTT 5, B over 3.1.1 with try_private). A QoS 1 message
published on any of the three arrives once at a subscriber on each of the
three, and never comes back: counted for a few seconds after."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
from mosqutil import Remote, bridge_conf, wait_bridge_up  # noqa: E402


def test():
    tern_only("bridges to other brokers")
    with Remote() as m:
        ca = bridge_conf(m, "hub", ["chat/# both 1"], clientid="tern-a")
        cb = bridge_conf(m, "hub", ["chat/# both 1"], version="mqttv311",
                         clientid="tern-b", extra=["try_private true"])
        with Broker(conf=ca, name="a") as a, Broker(conf=cb, name="b") as b:
            wait_bridge_up(a, "hub")
            wait_bridge_up(b, "hub")
            m.wait_log("Received SUBSCRIBE from tern-a")
            m.wait_log("Received SUBSCRIBE from tern-b")
            time.sleep(0.3)
            subs = {}
            for name, port in (("a", a.port), ("b", b.port), ("m", m.port)):
                subs[name] = Sub(port, "chat/#", qos=1, wait_secs=30,
                                 name="sub-" + name)
            for s in subs.values():
                s.wait_ready()
            for name, port in (("a", a.port), ("b", b.port), ("m", m.port)):
                pub(port, "chat/room", "from-" + name, qos=1)
            want = ["from-a", "from-b", "from-m"]
            for name, s in subs.items():
                s.wait_count(3, timeout=10)
            # an echo or a loop would show in the next seconds
            time.sleep(3)
            for name, s in subs.items():
                got = sorted(s.payloads)
                check_eq(got, want, "messages at the subscriber on %s"
                         % name)
                s.kill()


main(test)
