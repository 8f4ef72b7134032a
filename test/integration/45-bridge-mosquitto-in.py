#!/usr/bin/env python3
"""In: 500 QoS 1 messages published on a mosquitto under the remote prefix
of an in topic line arrive, in order and once, at a QoS 1 subscriber on the
tern that bridges to it, under the local prefix; over MQTT 5 and over
3.1.1 (two connections of one node). A topic the remote subscription does
not cover stays on the remote. A message whose local topic is deeper than
max_topic_levels is dropped, not a reason to close the bridge (the
remote would send it again at each reconnection)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
from mosqutil import Remote, bridge_conf, wait_bridge_up  # noqa: E402

N = 500


def test():
    tern_only("bridges to other brokers")
    with Remote() as r:
        conf = ["max_topic_levels 5"]
        conf += bridge_conf(r, "r5", ["cmd/# in 1 dev/ fleet/"])
        conf += bridge_conf(r, "r3", ["cfg/# in 1 dev3/ fleet/"],
                            version="mqttv311")
        with Broker(conf=conf) as b:
            wait_bridge_up(b, "r5")
            wait_bridge_up(b, "r3")
            # the SUBSCRIBEs of both bridges have reached the remote
            r.wait_log("fleet/cmd/# (QoS 1)")
            r.wait_log("fleet/cfg/# (QoS 1)")
            time.sleep(0.3)
            want = ["m%03d" % i for i in range(N)]
            for prefix, ltopic, version in (("cmd", "dev", 5),
                                            ("cfg", "dev3", 4)):
                with Sub(b.port, ltopic + "/#", qos=1, version=version,
                         wait_secs=30) as s:
                    s.wait_ready()
                    pub(r.port, "fleet/%s/1/2/3/4" % prefix, "too deep",
                        qos=1, version=version)
                    pub(r.port, "fleet/%s/x" % prefix, want, qos=1,
                        version=version, timeout=30)
                    pub(r.port, "fleet/other/x", "not bridged", qos=1)
                    s.wait_count(N, timeout=30)
                    time.sleep(0.5)
                    msgs = s.messages
                    check_eq([m[1] for m in msgs], want,
                             "payloads on tern (%s)" % ltopic)
                    check_eq({m[0] for m in msgs},
                             {"%s/%s/x" % (ltopic, prefix)},
                             "local topic (%s)" % ltopic)
                    check_eq({m[2] for m in msgs}, {1}, "QoS on tern")
            check("fleet/other" not in b.log(), "an unbridged topic "
                  "reached tern")
            for name in ("r5", "r3"):
                check_eq(b.log().count("bridge %s: connected" % name), 1,
                         "connections of bridge %s" % name)


main(test)
