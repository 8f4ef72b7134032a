#!/usr/bin/env python3
"""MQTT over WebSocket (ws://): CONNECT, SUBSCRIBE and PUBLISH at QoS 0,
1 and 2, MQTT 3.1.1 and 5.0, between two WebSocket clients; the 101
names the mqtt subprotocol; a packet split across frames and frames
carrying several packets arrive whole; ping frames are answered."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402
import wsutil  # noqa: E402


def test():
    tern_only("WebSocket listener keys")
    with Broker(conf=wsutil.listener_conf()) as b:
        port = wsutil.ws_port(b)
        for version in (V311, V5):
            sub = wsutil.Client(port, version=version)
            check_eq(sub.headers.get("sec-websocket-protocol"), "mqtt",
                     "subprotocol mqtt chosen")
            sub.connect("ws-sub-%d" % version)
            pub = wsutil.Client(port, version=version)
            pub.connect("ws-pub-%d" % version)
            for qos in (0, 1, 2):
                topic = "ws/v%d/q%d" % (version, qos)
                sub.subscribe(topic, mid=10 + qos, qos=qos)
                for i in range(5):
                    payload = ("m%d-%d-%d" % (version, qos, i)).encode()
                    pub.publish(topic, payload, qos=qos, mid=100 + i)
                    p = sub.recv_publish()
                    check_eq(p.payload, payload, "payload QoS %d" % qos)
                    check_eq(p.qos, qos, "QoS")
            # One PUBLISH cut into three frames, then two packets in one
            # frame.
            data = raw.publish("ws/v%d/q0" % version, b"x" * 300,
                               version=version)
            ws = pub.ws
            ws.send_frame(wsutil.frame(wsutil.OP_BINARY, data[:1],
                                       fin=False))
            ws.send_frame(wsutil.frame(wsutil.OP_PING, b"hi"))
            ws.send_frame(wsutil.frame(wsutil.OP_CONT, data[1:100],
                                       fin=False))
            ws.send_frame(wsutil.frame(wsutil.OP_CONT, data[100:]))
            check_eq(sub.recv_publish().payload, b"x" * 300,
                     "packet across fragments")
            ws.send_frame(wsutil.frame(wsutil.OP_BINARY, raw.publish(
                "ws/v%d/q0" % version, b"a", version=version) +
                raw.publish("ws/v%d/q0" % version, b"b", version=version)))
            check_eq(sub.recv_publish().payload, b"a", "first of two")
            check_eq(sub.recv_publish().payload, b"b", "second of two")
            pub.ping()
            wait_for(lambda: (wsutil.OP_PONG, b"hi") in pub.ws.frames, 5,
                     "pong with the ping's payload")
            # A large message: frames over 64 KiB, 16-bit and 64-bit
            # lengths.
            big = os.urandom(200000)
            pub.publish("ws/v%d/q1" % version, big, qos=1, mid=7)
            check_eq(sub.recv_publish().payload, big, "200 KB payload")
            pub.disconnect()
            sub.disconnect()
        b.wait_log("WebSocket handshake done")


main(test)
