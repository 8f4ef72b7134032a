#!/usr/bin/env python3
"""Out: 500 QoS 1 messages published on tern under the local prefix of an
out topic line arrive, in order and once, at a subscriber on a mosquitto
that tern bridges to, under the remote prefix; over MQTT 5 and over 3.1.1
(two connections of one node). A topic no out line covers stays on tern,
$SYS/broker/bridge/<name>/state says 1, /metrics counts what each bridge
sent (tern_bridge_*), and no client may take the bridge's session
($bridge/<name>: 0x85)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
from mosqutil import Remote, bridge_conf, wait_bridge_up  # noqa: E402
import mqttraw as raw  # noqa: E402
import metricsutil  # noqa: E402

N = 500


def test():
    tern_only("bridges to other brokers")
    with Remote() as r:
        conf = metricsutil.conf()
        conf += bridge_conf(r, "r5", ["sensors/# out 1 site/ plant/"])
        conf += bridge_conf(r, "r3", ["meters/# out 1 site/ plant3/"],
                            version="mqttv311")
        with Broker(conf=conf) as b:
            wait_bridge_up(b, "r5")
            wait_bridge_up(b, "r3")
            with Sub(b.port, "$SYS/broker/bridge/+/state", count=2,
                     wait_secs=10) as st:
                st.wait_count(2)
                check_eq(sorted(st.messages),
                         [("$SYS/broker/bridge/r3/state", "1", 0, 1),
                          ("$SYS/broker/bridge/r5/state", "1", 0, 1)],
                         "bridge states")
            with raw.Client(b.port, version=raw.V5) as c:
                c.connect("$bridge/r5", rc=0x85)
            want = ["m%03d" % i for i in range(N)]
            for prefix, rtopic, version in (("sensors", "plant", 5),
                                            ("meters", "plant3", 4)):
                with Sub(r.port, rtopic + "/#", qos=1, version=version,
                         wait_secs=30) as s:
                    s.wait_ready()
                    pub(b.port, "site/%s/a" % prefix, want, qos=1,
                        version=version, timeout=30)
                    pub(b.port, "site/other/a", "not bridged", qos=1)
                    msgs = s.wait_count(N, timeout=30)
                    time.sleep(0.5)
                    msgs = s.messages
                    check_eq([m[1] for m in msgs], want,
                             "payloads at the remote (%s)" % rtopic)
                    check_eq({m[0] for m in msgs},
                             {"%s/%s/a" % (rtopic, prefix)},
                             "remote topic (%s)" % rtopic)
                    check_eq({m[2] for m in msgs}, {1}, "QoS at the remote")
            status, _, body = metricsutil.request(b.http_port)
            check_eq(status, 200, "/metrics status")
            _, samples = metricsutil.parse(body)
            got = {(n, lb.get("name")): v for n, lb, v in samples
                   if n.startswith("tern_bridge_")}
            for name in ("r5", "r3"):
                check_eq(got.get(("tern_bridge_up", name)), 1.0,
                         "tern_bridge_up of %s" % name)
                check_eq(got.get(("tern_bridge_sent_messages_total", name)),
                         float(N), "messages %s sent" % name)
                check_eq(got.get(("tern_bridge_received_messages_total",
                                  name)), 0.0, "messages %s received" % name)
                check_eq(got.get(("tern_bridge_queued_messages", name)),
                         0.0, "messages queued for %s" % name)
    check("site/other" not in r.log(), "an unbridged topic reached the "
          "remote")


main(test)
