#!/usr/bin/env python3
"""WebSocket and TCP clients share one node: a ws:// subscriber receives
what mosquitto_pub sends over TCP, and mosquitto_sub over TCP receives
what a ws:// client publishes, at QoS 0, 1 and 2, in order."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
from mqttraw import V5  # noqa: E402
import wsutil  # noqa: E402


def test():
    tern_only("WebSocket listener keys")
    with Broker(conf=wsutil.listener_conf()) as b:
        port = wsutil.ws_port(b)
        for qos in (0, 1, 2):
            topic = "cross/tcp-to-ws/q%d" % qos
            msgs = ["t%d-%d" % (qos, i) for i in range(10)]
            c = wsutil.Client(port, version=V5)
            c.connect("ws-sub-%d" % qos)
            c.subscribe(topic, qos=qos)
            pub(b.port, topic, msgs, qos=qos, version=5)
            got = [c.recv_publish().payload.decode() for _ in msgs]
            check_eq(got, msgs, "TCP to ws, QoS %d" % qos)
            c.disconnect()

            topic = "cross/ws-to-tcp/q%d" % qos
            msgs = ["w%d-%d" % (qos, i) for i in range(10)]
            with Sub(b.port, topic, qos=qos, version=5,
                     count=len(msgs)) as s:
                s.wait_ready()
                c = wsutil.Client(port, version=V5)
                c.connect("ws-pub-%d" % qos)
                for i, m in enumerate(msgs):
                    c.publish(topic, m.encode(), qos=qos, mid=i + 1)
                got = s.wait_count(len(msgs))
                check_eq([m[1] for m in got], msgs, "ws to TCP, QoS %d"
                         % qos)
                s.finish()
                c.disconnect()


main(test)
