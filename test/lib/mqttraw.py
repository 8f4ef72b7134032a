"""A small raw MQTT client (3.1, 3.1.1 and 5) over a plain or TLS socket.

Builders return the bytes of one packet; ``Client`` sends bytes and reads
decoded packets, so tests can send malformed packets and check protocol
details (DUP flag, packet ids, reason codes, properties). Stdlib only.
"""

import socket
import ssl
import struct
import time

# packet types
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, \
    SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = \
    range(1, 16)

NAMES = {CONNECT: "CONNECT", CONNACK: "CONNACK", PUBLISH: "PUBLISH",
         PUBACK: "PUBACK", PUBREC: "PUBREC", PUBREL: "PUBREL",
         PUBCOMP: "PUBCOMP", SUBSCRIBE: "SUBSCRIBE", SUBACK: "SUBACK",
         UNSUBSCRIBE: "UNSUBSCRIBE", UNSUBACK: "UNSUBACK",
         PINGREQ: "PINGREQ", PINGRESP: "PINGRESP", DISCONNECT: "DISCONNECT",
         AUTH: "AUTH"}

V31, V311, V5 = 3, 4, 5

# v5 properties: id -> (name, type)
# types: byte, u16, u32, varint, str, bin, pair
PROPS = {
    0x01: ("payload_format_indicator", "byte"),
    0x02: ("message_expiry_interval", "u32"),
    0x03: ("content_type", "str"),
    0x08: ("response_topic", "str"),
    0x09: ("correlation_data", "bin"),
    0x0B: ("subscription_identifier", "varint"),
    0x11: ("session_expiry_interval", "u32"),
    0x12: ("assigned_client_identifier", "str"),
    0x13: ("server_keep_alive", "u16"),
    0x15: ("authentication_method", "str"),
    0x16: ("authentication_data", "bin"),
    0x17: ("request_problem_information", "byte"),
    0x18: ("will_delay_interval", "u32"),
    0x19: ("request_response_information", "byte"),
    0x1A: ("response_information", "str"),
    0x1C: ("server_reference", "str"),
    0x1F: ("reason_string", "str"),
    0x21: ("receive_maximum", "u16"),
    0x22: ("topic_alias_maximum", "u16"),
    0x23: ("topic_alias", "u16"),
    0x24: ("maximum_qos", "byte"),
    0x25: ("retain_available", "byte"),
    0x26: ("user_property", "pair"),
    0x27: ("maximum_packet_size", "u32"),
    0x28: ("wildcard_subscription_available", "byte"),
    0x29: ("subscription_identifier_available", "byte"),
    0x2A: ("shared_subscription_available", "byte"),
}
PROP_IDS = {name: pid for pid, (name, _) in PROPS.items()}

# v5 reason codes used by tests
RC_SUCCESS = 0x00
RC_NORMAL_DISCONNECT = 0x00
RC_GRANTED_QOS1 = 0x01
RC_GRANTED_QOS2 = 0x02
RC_NO_MATCHING_SUBSCRIBERS = 0x10
RC_UNSPECIFIED = 0x80
RC_MALFORMED = 0x81
RC_PROTOCOL_ERROR = 0x82
RC_CLIENT_ID_NOT_VALID = 0x85
RC_SERVER_SHUTTING_DOWN = 0x8B
RC_KEEP_ALIVE_TIMEOUT = 0x8D
RC_SESSION_TAKEN_OVER = 0x8E
RC_TOPIC_NAME_INVALID = 0x90
RC_PACKET_TOO_LARGE = 0x95
RC_QOS_NOT_SUPPORTED = 0x9B


class ProtocolError(Exception):
    pass


# --------------------------------------------------------------------------
# encoding

def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def u16(n):
    return struct.pack("!H", n)


def u32(n):
    return struct.pack("!I", n)


def mstr(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return u16(len(s)) + s


mbin = mstr


def props(p=None):
    """Encode a v5 property block. p: dict name->value or list of
    (name, value) (for repeated user properties); name may be an id."""
    if not p:
        return varint(0)
    items = p.items() if isinstance(p, dict) else p
    body = bytearray()
    for name, value in items:
        pid = name if isinstance(name, int) else PROP_IDS[name]
        typ = PROPS[pid][1]
        if typ == "pair" and isinstance(value, list):
            for k, v in value:
                body += varint(pid) + mstr(k) + mstr(v)
            continue
        body += varint(pid)
        if typ == "byte":
            body.append(value)
        elif typ == "u16":
            body += u16(value)
        elif typ == "u32":
            body += u32(value)
        elif typ == "varint":
            body += varint(value)
        elif typ in ("str", "bin"):
            body += mstr(value)
        elif typ == "pair":
            body += mstr(value[0]) + mstr(value[1])
    return varint(len(body)) + bytes(body)


def packet(ptype, flags, body):
    return bytes([(ptype << 4) | (flags & 0x0F)]) + varint(len(body)) + body


def connect(client_id="", version=V311, clean=True, keepalive=60,
            will=None, username=None, password=None, properties=None,
            will_properties=None, proto_name=None, flags_override=None):
    """will: (topic, payload, qos, retain)."""
    if proto_name is None:
        proto_name = "MQIsdp" if version == V31 else "MQTT"
    flags = 0
    if clean:
        flags |= 0x02
    if will:
        flags |= 0x04 | ((will[2] & 3) << 3) | (0x20 if will[3] else 0)
    if password is not None:
        flags |= 0x40
    if username is not None:
        flags |= 0x80
    if flags_override is not None:
        flags = flags_override
    body = mstr(proto_name) + bytes([version, flags]) + u16(keepalive)
    if version == V5:
        body += props(properties)
    body += mstr(client_id)
    if will:
        if version == V5:
            body += props(will_properties)
        body += mstr(will[0]) + mbin(will[1])
    if username is not None:
        body += mstr(username)
    if password is not None:
        body += mbin(password)
    return packet(CONNECT, 0, body)


def publish(topic, payload=b"", qos=0, retain=False, dup=False, mid=None,
            version=V311, properties=None):
    if isinstance(payload, str):
        payload = payload.encode()
    flags = (qos << 1) | (1 if retain else 0) | (8 if dup else 0)
    body = mstr(topic)
    if qos > 0:
        body += u16(mid if mid is not None else 1)
    if version == V5:
        body += props(properties)
    return packet(PUBLISH, flags, body + payload)


def _ack(ptype, flags, mid, version, rc, properties):
    body = u16(mid)
    if version == V5 and (rc or properties):
        body += bytes([rc])
        if properties:
            body += props(properties)
    return packet(ptype, flags, body)


def puback(mid, version=V311, rc=0, properties=None):
    return _ack(PUBACK, 0, mid, version, rc, properties)


def pubrec(mid, version=V311, rc=0, properties=None):
    return _ack(PUBREC, 0, mid, version, rc, properties)


def pubrel(mid, version=V311, rc=0, properties=None):
    return _ack(PUBREL, 2, mid, version, rc, properties)


def pubcomp(mid, version=V311, rc=0, properties=None):
    return _ack(PUBCOMP, 0, mid, version, rc, properties)


def subscribe(mid, topics, version=V311, properties=None, flags=2):
    """topics: list of (filter, options) or a single filter string with
    qos 0; options is the QoS (and v5 option bits)."""
    if isinstance(topics, str):
        topics = [(topics, 0)]
    body = u16(mid)
    if version == V5:
        body += props(properties)
    for f, opts in topics:
        body += mstr(f) + bytes([opts])
    return packet(SUBSCRIBE, flags, body)


def unsubscribe(mid, topics, version=V311, properties=None):
    if isinstance(topics, str):
        topics = [topics]
    body = u16(mid)
    if version == V5:
        body += props(properties)
    for f in topics:
        body += mstr(f)
    return packet(UNSUBSCRIBE, 2, body)


def pingreq():
    return b"\xc0\x00"


def disconnect(version=V311, rc=0, properties=None):
    if version == V5 and (rc or properties):
        body = bytes([rc])
        if properties:
            body += props(properties)
        return packet(DISCONNECT, 0, body)
    return b"\xe0\x00"


def auth(rc=0x18, properties=None):
    """AUTH (v5 only, section 3.15); rc 0x18 continue, 0x19
    re-authenticate."""
    if rc == 0 and not properties:
        return packet(AUTH, 0, b"")
    return packet(AUTH, 0, bytes([rc]) + props(properties))


# --------------------------------------------------------------------------
# decoding

class Packet:
    def __init__(self, ptype, flags, body):
        self.type = ptype
        self.flags = flags
        self.body = body
        self.fields = {}
        self.props = {}
        self.reason = None
        self.mid = None

    @property
    def name(self):
        return NAMES.get(self.type, "type%d" % self.type)

    # publish flags
    @property
    def dup(self):
        return (self.flags >> 3) & 1

    @property
    def qos(self):
        return (self.flags >> 1) & 3

    @property
    def retain(self):
        return self.flags & 1

    def __getattr__(self, k):
        try:
            return self.__dict__["fields"][k]
        except KeyError:
            raise AttributeError(k)

    def __repr__(self):
        extra = ""
        if self.type == PUBLISH:
            extra = " d%d q%d r%d" % (self.dup, self.qos, self.retain)
        return "<%s%s mid=%r reason=%r fields=%r props=%r>" % (
            self.name, extra, self.mid, self.reason, self.fields, self.props)


class Reader:
    def __init__(self, data):
        self.d = data
        self.i = 0

    def left(self):
        return len(self.d) - self.i

    def byte(self):
        if self.i >= len(self.d):
            raise ProtocolError("short packet")
        b = self.d[self.i]
        self.i += 1
        return b

    def u16(self):
        if self.left() < 2:
            raise ProtocolError("short packet")
        v = struct.unpack_from("!H", self.d, self.i)[0]
        self.i += 2
        return v

    def u32(self):
        if self.left() < 4:
            raise ProtocolError("short packet")
        v = struct.unpack_from("!I", self.d, self.i)[0]
        self.i += 4
        return v

    def varint(self):
        mult, v = 1, 0
        for _ in range(4):
            b = self.byte()
            v += (b & 0x7F) * mult
            if not b & 0x80:
                return v
            mult *= 128
        raise ProtocolError("bad varint")

    def bin(self):
        n = self.u16()
        if self.left() < n:
            raise ProtocolError("short string")
        v = self.d[self.i:self.i + n]
        self.i += n
        return bytes(v)

    def str(self):
        return self.bin().decode("utf-8", errors="replace")

    def rest(self):
        v = self.d[self.i:]
        self.i = len(self.d)
        return bytes(v)

    def props(self):
        n = self.varint()
        end = self.i + n
        out = {}
        while self.i < end:
            pid = self.varint()
            if pid not in PROPS:
                raise ProtocolError("unknown property 0x%02x" % pid)
            name, typ = PROPS[pid]
            if typ == "byte":
                v = self.byte()
            elif typ == "u16":
                v = self.u16()
            elif typ == "u32":
                v = self.u32()
            elif typ == "varint":
                v = self.varint()
            elif typ == "str":
                v = self.str()
            elif typ == "bin":
                v = self.bin()
            else:
                v = (self.str(), self.str())
            if typ == "pair" or name == "subscription_identifier":
                out.setdefault(name, []).append(v)
            else:
                out[name] = v
        return out


def decode(ptype, flags, body, version):
    p = Packet(ptype, flags, body)
    r = Reader(body)
    v5 = version == V5
    if ptype == CONNACK:
        p.fields["session_present"] = r.byte() & 1
        p.reason = r.byte()
        p.fields["rc"] = p.reason
        if v5 and r.left():
            p.props = r.props()
    elif ptype == PUBLISH:
        p.fields["topic"] = r.str()
        if p.qos:
            p.mid = r.u16()
        if v5:
            p.props = r.props()
        p.fields["payload"] = r.rest()
    elif ptype in (PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK, SUBACK):
        p.mid = r.u16()
        if ptype in (SUBACK, UNSUBACK):
            if v5:
                p.props = r.props()
            p.fields["codes"] = list(r.rest())
        else:
            p.reason = 0
            if v5 and r.left():
                p.reason = r.byte()
                if r.left():
                    p.props = r.props()
    elif ptype in (DISCONNECT, AUTH):
        p.reason = 0
        if r.left():
            p.reason = r.byte()
            if r.left():
                p.props = r.props()
    return p


class Closed(Exception):
    """The peer closed the connection."""


class Client:
    """A raw MQTT connection.

    c = Client(port, version=V5); c.send(connect(...)); p = c.recv()
    """

    def __init__(self, port, version=V311, host="127.0.0.1", timeout=5.0,
                 ssl_context=None, source=None):
        """ssl_context: an ssl.SSLContext to speak TLS (handshake done
        here, so a refused certificate raises ssl.SSLError). source: the
        local address to connect from (e.g. "127.0.0.2")."""
        self.version = version
        self.timeout = timeout
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ssl_context is not None:
            try:
                self.sock = ssl_context.wrap_socket(self.sock,
                                                    server_hostname=host)
            except BaseException:
                self.sock.close()
                raise
        self.buf = bytearray()
        self.stash = []       # packets read ahead (see ack)
        self.closed = False

    # -- io
    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(remaining)
        try:
            d = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            d = b""
        except ssl.SSLError:
            # an alert or a TCP close without close_notify
            d = b""
        if not d:
            self.closed = True
            raise Closed("connection closed by peer")
        self.buf += d

    def _parse(self):
        """One complete packet from the buffer, or None."""
        if len(self.buf) < 2:
            return None
        mult, n, i = 1, 0, 1
        while True:
            if i >= len(self.buf):
                return None
            b = self.buf[i]
            n += (b & 0x7F) * mult
            i += 1
            if not b & 0x80:
                break
            mult *= 128
            if i > 4:
                raise ProtocolError("bad remaining length from server")
        if len(self.buf) < i + n:
            return None
        h = self.buf[0]
        body = bytes(self.buf[i:i + n])
        del self.buf[:i + n]
        return decode(h >> 4, h & 0xF, body, self.version)

    def recv(self, timeout=None):
        """Next packet. Raises socket.timeout, or Closed at EOF."""
        if self.stash:
            return self.stash.pop(0)
        return self._recv_sock(timeout)

    def _recv_sock(self, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None
                                       else timeout)
        while True:
            p = self._parse()
            if p is not None:
                return p
            self._fill(deadline)

    def expect(self, ptype, timeout=None, what=None):
        """Next packet, which must be of type ptype."""
        try:
            p = self.recv(timeout)
        except socket.timeout:
            raise AssertionError("%s: timed out waiting for %s"
                                 % (what or "raw client", NAMES[ptype]))
        except Closed:
            raise AssertionError("%s: connection closed while waiting for "
                                 "%s" % (what or "raw client", NAMES[ptype]))
        if p.type != ptype:
            raise AssertionError("%s: expected %s, got %r"
                                 % (what or "raw client", NAMES[ptype], p))
        return p

    def expect_none(self, timeout=0.3):
        """Assert that nothing arrives within timeout seconds."""
        if self.stash:
            raise AssertionError("unexpected packet %r" % self.stash[0])
        try:
            p = self.recv(timeout)
        except socket.timeout:
            return
        except Closed:
            raise AssertionError("connection closed unexpectedly")
        raise AssertionError("unexpected packet %r" % p)

    def wait_closed(self, timeout=5.0):
        """Read until EOF. Returns the list of packets received before the
        close. Raises AssertionError if still open after timeout."""
        got, self.stash = self.stash, []
        deadline = time.monotonic() + timeout
        while True:
            try:
                p = self._parse()
                if p is not None:
                    got.append(p)
                    continue
                self._fill(deadline)
            except Closed:
                return got
            except socket.timeout:
                raise AssertionError("connection still open after %.1fs "
                                     "(received %r)" % (timeout, got))
            except ProtocolError:
                # garbage after a DISCONNECT: drain
                self.buf.clear()

    def is_open(self, timeout=0.2):
        """True if the connection is still open (no EOF within timeout).
        Packets that arrive meanwhile are kept in the buffer."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
        except socket.timeout:
            return True
        except Closed:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Close with RST (SO_LINGER 0), like a crashed client."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
        return False

    def expect_ack(self, ptype, mid, timeout=None):
        """Wait for the acknowledgement ptype (PUBACK, PUBREC, PUBREL,
        PUBCOMP, SUBACK, UNSUBACK) with packet id mid. PUBLISH packets
        that arrive meanwhile (both orders are legal) are kept for the next
        recv()."""
        what = "%s %d" % (NAMES[ptype], mid)
        for i, p in enumerate(self.stash):
            if p.type == ptype and p.mid == mid:
                del self.stash[i]
                return p
        deadline = time.monotonic() + (self.timeout if timeout is None
                                       else timeout)
        while True:
            try:
                p = self._recv_sock(max(0.0, deadline - time.monotonic()))
            except socket.timeout:
                raise AssertionError("timed out waiting for %s" % what)
            except Closed:
                raise AssertionError("connection closed while waiting for "
                                     "%s" % what)
            if p.type == ptype and p.mid == mid:
                return p
            if p.type == PUBLISH:
                self.stash.append(p)
                continue
            raise AssertionError("expected %s, got %r" % (what, p))

    # -- conveniences
    def connect(self, client_id="", clean=True, keepalive=60, rc=0, **kw):
        """Send CONNECT and check the CONNACK reason code; return it."""
        self.send(connect(client_id, version=self.version, clean=clean,
                          keepalive=keepalive, **kw))
        p = self.expect(CONNACK, what="CONNACK for %r" % client_id)
        if rc is not None and p.reason != rc:
            raise AssertionError("CONNACK for %r: reason %#x (expected %#x)"
                                 % (client_id, p.reason, rc))
        return p

    def subscribe(self, topics, mid=1, qos=0, properties=None):
        if isinstance(topics, str):
            topics = [(topics, qos)]
        self.send(subscribe(mid, topics, version=self.version,
                            properties=properties))
        return self.expect_ack(SUBACK, mid)

    def unsubscribe(self, topics, mid=1):
        self.send(unsubscribe(mid, topics, version=self.version))
        return self.expect_ack(UNSUBACK, mid)

    def publish(self, topic, payload=b"", qos=0, retain=False, mid=1,
                dup=False, properties=None):
        """Publish and complete the QoS flow as the sender."""
        self.send(publish(topic, payload, qos=qos, retain=retain, mid=mid,
                          dup=dup, version=self.version,
                          properties=properties))
        if qos == 1:
            return self.expect_ack(PUBACK, mid)
        if qos == 2:
            self.expect_ack(PUBREC, mid)
            self.send(pubrel(mid, version=self.version))
            return self.expect_ack(PUBCOMP, mid)
        return None

    def recv_publish(self, timeout=None, ack=True):
        """Next PUBLISH, acknowledged as the receiver (QoS 1: PUBACK,
        QoS 2: PUBREC/PUBREL/PUBCOMP) unless ack is False."""
        p = self.expect(PUBLISH, timeout=timeout, what="PUBLISH")
        if ack:
            self.ack(p)
        return p

    def ack(self, p):
        if p.qos == 1:
            self.send(puback(p.mid, version=self.version))
        elif p.qos == 2:
            self.send(pubrec(p.mid, version=self.version))
            # further PUBLISHes may come before the PUBREL: kept for later
            self.expect_ack(PUBREL, p.mid)
            self.send(pubcomp(p.mid, version=self.version))

    def ping(self, timeout=None):
        self.send(pingreq())
        return self.expect(PINGRESP, timeout=timeout, what="PINGRESP")

    def disconnect(self, rc=0):
        try:
            self.send(disconnect(self.version, rc))
        except OSError:
            pass
        self.close()
