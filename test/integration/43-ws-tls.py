#!/usr/bin/env python3
"""MQTT over WebSocket over TLS (wss://): the same listener has a
certfile and protocol websockets. QoS 0, 1 and 2 round trips, MQTT 3.1.1
and 5.0, a large message across TLS records and frames; at shutdown the
v5 DISCONNECT 0x8B and the close frame reach the client before the
connection ends (the WebSocket layer flushes into the TLS layer, which
flushes its records)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402
import tlsutil  # noqa: E402
import wsutil  # noqa: E402


def test():
    tern_only("WebSocket listener keys")
    ca = tlsutil.CA()
    crt, key, _ = ca.issue("server", HOST)
    ctx = tlsutil.client_context(ca.crt)
    b = Broker(conf=wsutil.listener_conf(tlsutil.listener_conf(crt, key)))
    port = wsutil.ws_port(b)
    for version in (V311, V5):
        sub = wsutil.Client(port, version=version, ssl_context=ctx)
        sub.connect("wss-sub-%d" % version)
        pub = wsutil.Client(port, version=version, ssl_context=ctx)
        pub.connect("wss-pub-%d" % version)
        for qos in (0, 1, 2):
            topic = "wss/v%d/q%d" % (version, qos)
            sub.subscribe(topic, mid=10 + qos, qos=qos)
            for i in range(5):
                payload = ("m%d-%d-%d" % (version, qos, i)).encode()
                pub.publish(topic, payload, qos=qos, mid=100 + i)
                p = sub.recv_publish()
                check_eq(p.payload, payload, "payload QoS %d" % qos)
                check_eq(p.qos, qos, "QoS")
        big = os.urandom(300000)
        pub.publish("wss/v%d/q1" % version, big, qos=1, mid=9)
        check_eq(sub.recv_publish().payload, big, "300 KB payload")
        pub.disconnect()
        sub.disconnect()
    b.wait_log("TLS handshake done")
    b.wait_log("WebSocket handshake done")
    # Shutdown: the last frames are not lost.
    c = wsutil.Client(port, version=V5, ssl_context=ctx)
    c.connect("wss-last")
    b.stop()
    got = c.wait_closed(5)
    check(any(p.type == raw.DISCONNECT and p.reason == 0x8B for p in got),
          "DISCONNECT 0x8B before the close (got %r)" % got)
    check_eq(c.ws.close_code, 1000, "close frame 1000 after it")


main(test)
