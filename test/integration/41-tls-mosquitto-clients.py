#!/usr/bin/env python3
"""mosquitto_pub and mosquitto_sub over a TLS listener with --cafile:
QoS 0, 1 and 2, MQTT 3.1.1 and 5.0, every message arrives once and in
order; the broker logs the handshakes."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import tlsutil  # noqa: E402


def test():
    tern_only("TLS listener keys")
    ca = tlsutil.CA()
    crt, key, _ = ca.issue("server", HOST)
    tls = tlsutil.tls_args(ca.crt)
    with Broker(conf=tlsutil.listener_conf(crt, key)) as b:
        for version in (4, 5):
            for qos in (0, 1, 2):
                topic = "tls/v%d/q%d" % (version, qos)
                msgs = ["m%d-%d-%d" % (version, qos, i) for i in range(20)]
                with Sub(b.port, topic, qos=qos, version=version,
                         count=len(msgs), extra=tls) as s:
                    s.wait_ready()
                    pub(b.port, topic, msgs, qos=qos, version=version,
                        extra=tls)
                    got = s.wait_count(len(msgs))
                    check_eq([m[1] for m in got], msgs,
                             "v%d QoS %d payloads in order" % (version, qos))
                    check_eq(set(m[2] for m in got), {qos},
                             "v%d QoS %d granted" % (version, qos))
                    s.finish()
        b.wait_log("TLS handshake done: TLSv1.2")


main(test)
