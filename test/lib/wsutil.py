"""A stdlib WebSocket client (RFC 6455) for the WebSocket tests (43-ws-*).

``Client`` is mqttraw.Client over ws:// or wss://: the handshake is done
at construction, MQTT bytes go out in masked binary frames and come back
from the server's frames, so every mqttraw helper (connect, subscribe,
publish, expect, wait_closed...) works unchanged. ``handshake`` and
``frame`` let tests send what a client should not (a wrong path, an
unmasked or a text frame).
"""

import base64
import hashlib
import os
import socket
import struct
import time

import mqttraw
from harness import HOST

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = \
    0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class HandshakeError(Exception):
    def __init__(self, status, head):
        Exception.__init__(self, "WebSocket handshake refused: %d" % status)
        self.status = status
        self.head = head


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0):
    """One client frame."""
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, m | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    body = bytes(c ^ key[i & 3] for i, c in enumerate(payload))
    return hdr + key + body


def request(path="/mqtt", host=HOST, key=None, protocol="mqtt",
            version="13", upgrade="websocket", connection="Upgrade",
            method="GET"):
    """The bytes of an Upgrade request; None leaves a header out."""
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % host]
    if upgrade is not None:
        lines.append("Upgrade: %s" % upgrade)
    if connection is not None:
        lines.append("Connection: %s" % connection)
    if key is not None:
        lines.append("Sec-WebSocket-Key: %s" % key)
    if version is not None:
        lines.append("Sec-WebSocket-Version: %s" % version)
    if protocol is not None:
        lines.append("Sec-WebSocket-Protocol: %s" % protocol)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_head(sock, timeout=5.0):
    """Read an HTTP response head: (status, {lower name: value}, rest)."""
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\r\n\r\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no HTTP response within %.1fs (got %r)"
                                 % (timeout, buf))
        sock.settimeout(left)
        d = sock.recv(4096)
        if not d:
            raise AssertionError("connection closed before an HTTP "
                                 "response (got %r)" % buf)
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return status, headers, rest


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()
                            ).decode()


def handshake(sock, path="/mqtt", protocol="mqtt", timeout=5.0, **kw):
    """Send an Upgrade request on sock and check the 101. Returns
    (headers, bytes read past the head). Raises HandshakeError on another
    status."""
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(request(path=path, key=key, protocol=protocol, **kw))
    status, headers, rest = read_head(sock, timeout)
    if status != 101:
        raise HandshakeError(status, headers)
    if headers.get("sec-websocket-accept") != accept_for(key):
        raise AssertionError("bad Sec-WebSocket-Accept %r"
                             % headers.get("sec-websocket-accept"))
    if headers.get("upgrade", "").lower() != "websocket":
        raise AssertionError("101 without Upgrade: websocket")
    return headers, rest


class WSSocket:
    """The socket interface mqttraw.Client uses, over WebSocket frames.
    recv returns the payload of binary frames; a close frame is EOF (its
    status in close_code); pings are answered."""

    def __init__(self, sock, rest=b""):
        self.sock = sock
        self.raw = bytearray(rest)
        self.data = bytearray()
        self.close_code = None
        self.frames = []      # (opcode, payload) of every frame received
        self.eof = False

    def sendall(self, data):
        self.sock.sendall(frame(OP_BINARY, bytes(data)))

    def send_frame(self, raw):
        self.sock.sendall(raw)

    def settimeout(self, t):
        self.sock.settimeout(t)

    def setsockopt(self, *a):
        self.sock.setsockopt(*a)

    def close(self):
        self.sock.close()

    def _parse(self):
        """Decode complete frames from raw into data."""
        while len(self.raw) >= 2:
            b0, b1 = self.raw[0], self.raw[1]
            if b1 & 0x80:
                raise AssertionError("masked frame from the server")
            n, i = b1 & 0x7F, 2
            if n == 126:
                if len(self.raw) < 4:
                    return
                n, i = struct.unpack("!H", self.raw[2:4])[0], 4
            elif n == 127:
                if len(self.raw) < 10:
                    return
                n, i = struct.unpack("!Q", self.raw[2:10])[0], 10
            if len(self.raw) < i + n:
                return
            op, payload = b0 & 0x0F, bytes(self.raw[i:i + n])
            del self.raw[:i + n]
            self.frames.append((op, payload))
            if op in (OP_BINARY, OP_CONT):
                self.data += payload
            elif op == OP_TEXT:
                raise AssertionError("text frame from the server")
            elif op == OP_PING:
                self.sock.sendall(frame(OP_PONG, payload))
            elif op == OP_CLOSE:
                self.close_code = (struct.unpack("!H", payload[:2])[0]
                                   if len(payload) >= 2 else 1005)
                self.eof = True

    def recv(self, n):
        while not self.data and not self.eof:
            d = self.sock.recv(65536)
            if not d:
                self.eof = True
                break
            self.raw += d
            self._parse()
        if not self.data:
            return b""
        out = bytes(self.data[:n])
        del self.data[:n]
        return out


class Client(mqttraw.Client):
    """mqttraw.Client over a WebSocket: ws://host:port/path, or wss://
    with ssl_context."""

    def __init__(self, port, version=mqttraw.V311, host=HOST, timeout=5.0,
                 ssl_context=None, path="/mqtt", protocol="mqtt"):
        self.version = version
        self.timeout = timeout
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if ssl_context is not None:
                sock = ssl_context.wrap_socket(sock, server_hostname=host)
            self.headers, rest = handshake(sock, path=path,
                                           protocol=protocol,
                                           timeout=timeout)
        except BaseException:
            sock.close()
            raise
        self.ws = WSSocket(sock, rest)
        self.ws._parse()
        self.sock = self.ws
        self.buf = bytearray()
        self.stash = []
        self.closed = False

    def abort(self):
        self.close()


def listener_conf(extra=(), path=None):
    """Config lines for a second listener, on a free port, speaking
    WebSocket (extra: more lines for it, e.g. tlsutil.listener_conf)."""
    lines = ["listener 0 %s" % HOST, "protocol websockets"]
    if path is not None:
        lines.append("websockets_path %s" % path)
    return lines + list(extra)


def ws_port(broker):
    """The port of the broker's WebSocket listener (the second one)."""
    return broker.listeners[1][1]
