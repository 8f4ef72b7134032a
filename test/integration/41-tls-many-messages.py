#!/usr/bin/env python3
"""Many small messages across TLS: 10000 QoS 1 messages from one
mosquitto_pub connection reach a mosquitto_sub, both over TLS, each once
and in order (many packets per record and packets cut across records,
both ways); then the same through a v5 raw TLS subscriber that reads in
bursts."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
import tlsutil  # noqa: E402

N = 10000


def test():
    tern_only("TLS listener keys")
    ca = tlsutil.CA()
    crt, key, _ = ca.issue("server", HOST)
    tls = tlsutil.tls_args(ca.crt)
    conf = tlsutil.listener_conf(crt, key) + ["max_queued_messages 20000",
                                              "log_level info"]
    msgs = ["msg-%05d" % i for i in range(N)]
    with Broker(conf=conf, verbose=False) as b:
        with Sub(b.port, "many/t", qos=1, count=N, wait_secs=120,
                 extra=tls) as s:
            s.wait_ready()
            pub(b.port, "many/t", msgs, qos=1, extra=tls, timeout=120)
            got = s.wait_count(N, timeout=120)
            check_eq(len(got), N, "message count")
            check(s.payloads == msgs, "every message once, in order")
            s.finish()

        sub = raw.Client(b.port, version=raw.V5, timeout=30,
                         ssl_context=tlsutil.client_context(ca.crt))
        sub.connect("many-raw")
        sub.subscribe("many/raw", qos=1)
        pub(b.port, "many/raw", msgs, qos=1, version=5, extra=tls,
            timeout=120)
        seen = [sub.recv_publish(timeout=30).payload.decode()
                for _ in range(N)]
        check_eq(len(seen), N, "raw subscriber count")
        check(seen == msgs, "raw subscriber: every message once, in order")
        sub.ping()
        sub.disconnect()


main(test)
