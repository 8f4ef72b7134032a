#!/usr/bin/env python3
"""The Paho Python client with ssl (tls_set with the test CA), v3.1.1 and
v5: subscribe, publish at QoS 0/1/2, receive what was published."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import tlsutil  # noqa: E402


def test():
    tern_only("TLS listener keys")
    paho()
    ca = tlsutil.CA()
    crt, key, _ = ca.issue("server", HOST)
    with Broker(conf=tlsutil.listener_conf(crt, key)) as b:
        for version in (4, 5):
            sub = PahoClient(b.port, "paho-sub-%d" % version, version)
            sub.c.tls_set(ca_certs=ca.crt)
            sub.connect()
            pubc = PahoClient(b.port, "paho-pub-%d" % version, version)
            pubc.c.tls_set(ca_certs=ca.crt)
            pubc.connect()
            topic = "tls/paho/%d" % version
            sub.subscribe(topic, qos=2)
            sent = []
            for qos in (0, 1, 2):
                for i in range(5):
                    payload = b"p%d-%d-%d" % (version, qos, i)
                    pubc.publish(topic, payload, qos=qos)
                    sent.append((payload, qos))
            got = sub.wait_count(len(sent))
            check_eq([(m[1], m[2]) for m in got], sent,
                     "v%d: payloads and QoS" % version)
            pubc.disconnect()
            sub.disconnect()


main(test)
