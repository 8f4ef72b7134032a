#!/usr/bin/env python3
"""SIGHUP reconfigures the bridges: a node bridging "a/#" out to a
mosquitto is given "b/#" instead, and a second section, in its file;
after the SIGHUP b/ goes out and a/ does not, the new bridge connects,
and 200 QoS 1 messages acknowledged by tern just before the SIGHUP (so
in flight or queued on the bridge's session while it is stopped and
started again) all reach the remote's subscriber. A section removed by
the next SIGHUP stops its bridge. A section with a bad key is refused
whole (the file does not parse): the bridges run on as they were."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
from mosqutil import Remote, bridge_conf, wait_bridge_up  # noqa: E402

N = 200


def test():
    tern_only("bridges to other brokers")
    with Remote() as r:
        one = bridge_conf(r, "x1", ["a/# out 1"])
        with Broker(conf=one) as b:
            wait_bridge_up(b, "x1")
            with Sub(r.port, "#", qos=1, wait_secs=30) as s:
                s.wait_ready()
                pub(b.port, "a/1", "before", qos=1)
                s.wait_count(1, timeout=10)
                check_eq([m[:2] for m in s.messages], [("a/1", "before")],
                         "a/ goes out before the reload")
                want = ["q%03d" % i for i in range(N)]
                pub(b.port, "a/q", want, qos=1, timeout=30)
                two = bridge_conf(r, "x1", ["b/# out 1"]) + \
                    bridge_conf(r, "x2", ["c/# out 1"], clientid="tern-x2")
                b.reload(two)
                b.wait_log("bridges reconfigured: 2", 10)
                wait_bridge_up(b, "x1", count=2, timeout=15)
                wait_bridge_up(b, "x2", timeout=15)
                pub(b.port, "a/2", "a after", qos=1)
                pub(b.port, "b/2", "b after", qos=1)
                pub(b.port, "c/2", "c after", qos=1)
                s.wait_count(1 + N + 2, timeout=30)
                time.sleep(1.0)
                got = [m[:2] for m in s.messages]
                queued = [p for t, p in got if t == "a/q"]
                check_eq(sorted(set(queued)), want, "every message "
                         "acknowledged before the reload reached the remote")
                check(("b/2", "b after") in got, "b/ goes out after the "
                      "reload")
                check(("c/2", "c after") in got, "the new bridge x2 works")
                check(("a/2", "a after") not in got, "a/ no longer goes "
                      "out")
                # a bad key: the whole file refused, bridges unchanged
                b.reload(two + ["bogus_bridge_key 1"])
                check("not reloaded" in b.log() or "unknown key" in b.log(),
                      "a bad section refused")
                pub(b.port, "c/3", "c still", qos=1)
                # x2 removed: it stops
                b.reload(bridge_conf(r, "x1", ["b/# out 1"]))
                b.wait_log("bridges reconfigured: 1", 10)
                pub(b.port, "c/4", "c gone", qos=1)
                pub(b.port, "b/4", "b still", qos=1)
                wait_for(lambda: ("b/4", "b still") in
                         [m[:2] for m in s.messages], 15, "b/4 arrives")
                time.sleep(0.5)
                got = [m[:2] for m in s.messages]
                check(("c/3", "c still") in got, "x2 ran on after the bad "
                      "file")
                check(("c/4", "c gone") not in got, "x2 removed: c/ no "
                      "longer goes out")
            check("$bridge/x2: no such connection configured any more"
                  in b.log(), "the removed bridge's session dropped")


main(test)
