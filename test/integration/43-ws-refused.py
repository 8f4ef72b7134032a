#!/usr/bin/env python3
"""Bad WebSocket handshakes and frames are refused, and the node keeps
serving others: another path gets 404, a request without Upgrade or
Connection: Upgrade, or with Sec-WebSocket-Version 8, or without a key,
or a POST gets 400; a request over 8 KiB gets 400; each is then closed.
After the handshake an unmasked frame closes with 1002, a text frame
with 1003, a frame over max_packet_size + 64 KiB with 1009, a
continuation outside a message with 1002. A close frame is echoed
(with 1002 for a status that may not be sent, like 1005). A
plain MQTT client on the WebSocket port is refused too."""
import os
import socket
import struct
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311  # noqa: E402
import wsutil  # noqa: E402


def refused(port, req, status, what, reset_ok=False):
    """reset_ok: the node may close with bytes of the request unread, and
    the kernel then resets the connection, possibly before the client
    reads the answer."""
    s = socket.create_connection((HOST, port), timeout=5)
    try:
        s.sendall(req)
        try:
            got, headers, _ = wsutil.read_head(s)
        except ConnectionResetError:
            check(reset_ok, "%s: connection reset" % what)
            return
        check_eq(got, status, what)
        check_eq(headers.get("connection"), "close", what + ": Connection")
        s.settimeout(5)
        try:
            while s.recv(4096):
                pass
        except ConnectionResetError:
            check(reset_ok, "%s: connection reset" % what)
    finally:
        s.close()


def closed_with(port, data, code, what):
    c = wsutil.Client(port, version=V311, path="/ws")
    c.connect("bad-frame")
    c.ws.send_frame(data)
    try:
        c.wait_closed(5)
    except AssertionError:
        raise TestFailure("%s: connection not closed" % what)
    check_eq(c.ws.close_code, code, what)
    c.close()


def test():
    tern_only("WebSocket listener keys")
    with Broker(conf=wsutil.listener_conf(path="/ws") +
                ["max_packet_size 1000"]) as b:
        port = wsutil.ws_port(b)
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        bystander = wsutil.Client(port, path="/ws")
        bystander.connect("bystander")
        bystander.subscribe("still/#", qos=1)
        refused(port, wsutil.request("/mqtt", key=key), 404, "wrong path")
        refused(port, wsutil.request("/ws", key=key, upgrade=None), 400,
                "no Upgrade")
        refused(port, wsutil.request("/ws", key=key, connection="close"),
                400, "no Connection: Upgrade")
        refused(port, wsutil.request("/ws", key=key, version="8"), 400,
                "version 8")
        refused(port, wsutil.request("/ws"), 400, "no key")
        refused(port, wsutil.request("/ws", key="short"), 400, "bad key")
        refused(port, wsutil.request("/ws", key=key, method="POST"), 400,
                "POST")
        refused(port, b"GET /ws HTTP/1.1\r\nX: " + b"y" * 9000, 400,
                "request over 8 KiB", reset_ok=True)
        refused(port, raw.connect("plain", version=V311), 400,
                "plain MQTT")
        # Case and token lists as browsers send them; a query string.
        s = socket.create_connection((HOST, port), timeout=5)
        wsutil.handshake(s, path="/ws?x=1", connection="keep-alive, Upgrade",
                         upgrade="WebSocket", protocol="mqttv3.1")
        s.close()
        closed_with(port, wsutil.frame(wsutil.OP_BINARY, raw.pingreq(),
                                       mask=False), 1002, "unmasked frame")
        closed_with(port, wsutil.frame(wsutil.OP_TEXT, b"hello"), 1003,
                    "text frame")
        closed_with(port, wsutil.frame(wsutil.OP_BINARY,
                                       b"\0" * (1000 + 65537)), 1009,
                    "oversized frame")
        closed_with(port, wsutil.frame(wsutil.OP_CONT, b"x"), 1002,
                    "continuation outside a message")
        closed_with(port, wsutil.frame(wsutil.OP_BINARY, b"x", rsv=4), 1002,
                    "reserved bit")
        closed_with(port, wsutil.frame(wsutil.OP_CLOSE,
                                       struct.pack("!H", 1001)), 1001,
                    "close echoed")
        closed_with(port, wsutil.frame(wsutil.OP_CLOSE,
                                       struct.pack("!H", 1005)), 1002,
                    "a close with a status no endpoint may send")
        b.wait_log("WebSocket: text frame")
        b.wait_log("handshake refused with 404")
        # The node still serves others.
        c = wsutil.Client(port, path="/ws")
        c.connect("after")
        c.publish("still/here", b"yes", qos=1)
        check_eq(bystander.recv_publish().payload, b"yes", "bystander")
        c.disconnect()
        bystander.disconnect()


main(test)
