#!/usr/bin/env python3
"""Messages cross protocol versions: v5 -> 3.1.1, 3.1.1 -> v5,
3.1 -> v5 and v5 -> 3.1, exact count and order with mosquitto_pub/sub."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

N = 50


def test():
    with Broker() as b:
        for pv, sv in ((5, 4), (4, 5), (3, 5), (5, 3)):
            topic = "xv/%d-%d" % (pv, sv)
            msgs = ["%d>%d:%03d" % (pv, sv, i) for i in range(N)]
            with Sub(b.port, topic, qos=1, version=sv, count=N) as s:
                s.wait_ready()
                pub(b.port, topic, msgs, qos=1, version=pv,
                    client_id="xv-pub-%d-%d" % (pv, sv))
                s.wait_count(N)
                check_eq(s.finish(), 0, "mosquitto_sub exit status")
                check_eq(s.payloads, msgs, "payloads v%d -> v%d" % (pv, sv))


main(test)
