#!/usr/bin/env python3
"""Large messages across TLS records: 1 MB and 4 MB payloads published
over TLS arrive whole and intact at TLS subscribers (the raw client and
mosquitto_sub), at QoS 0 and 1; a payload of one byte more than a record
boundary too."""
import hashlib
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
import tlsutil  # noqa: E402


def test():
    tern_only("TLS listener keys")
    ca = tlsutil.CA()
    crt, key, _ = ca.issue("server", HOST)
    ctx = tlsutil.client_context(ca.crt)
    conf = tlsutil.listener_conf(crt, key) + ["max_packet_size 8388608"]
    with Broker(conf=conf) as b:
        sub = raw.Client(b.port, ssl_context=ctx, timeout=20)
        sub.connect("big-sub")
        sub.subscribe("big/#", qos=1)
        p = raw.Client(b.port, ssl_context=ctx, timeout=20)
        p.connect("big-pub")
        sizes = (16385, 1 << 20, 4 << 20)
        for qos in (0, 1):
            for n in sizes:
                payload = os.urandom(n)
                p.publish("big/%d/%d" % (qos, n), payload, qos=qos, mid=7)
                m = sub.recv_publish(timeout=20.0)
                check_eq(m.topic, "big/%d/%d" % (qos, n), "topic")
                check(m.payload == payload, "%d bytes at QoS %d intact "
                      "(got %d)" % (n, qos, len(m.payload)))
        p.ping()

        # mosquitto_sub over TLS gets a 1 MB message too (text, so that
        # its output can be compared).
        text = hashlib.sha256(b"seed").hexdigest() * (1 << 20 // 64)
        with Sub(b.port, "bigtext", qos=1, count=1,
                 extra=tlsutil.tls_args(ca.crt)) as s:
            s.wait_ready()
            p.publish("bigtext", text.encode(), qos=1, mid=9)
            got = s.wait_count(1, timeout=20)
            check(got[0][1] == text, "1 MB at mosquitto_sub intact "
                  "(got %d bytes)" % len(got[0][1]))
            s.finish()
        p.disconnect()
        sub.disconnect()


main(test)
