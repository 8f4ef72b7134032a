"""Helpers for the MQTT 5 feature tests (test/integration/12-v5-*.py).

Stdlib only; built on mqttraw.py and harness.py without changing them:
config lines that differ between ternd and mosquitto, an AUTH packet
builder, reading packets without acknowledging them, waiting for the
server's DISCONNECT, and a decoder of server-assigned topic aliases.
"""

import socket
import time

import mqttraw as raw
from harness import Skip, TestFailure, check, check_eq, is_mosquitto, log

# v5 reason codes not named in mqttraw
RC_DISCONNECT_WITH_WILL = 0x04
RC_BAD_AUTH_METHOD = 0x8C
RC_SERVER_BUSY = 0x89
RC_SERVER_UNAVAILABLE = 0x88
RC_RECEIVE_MAXIMUM_EXCEEDED = 0x93
RC_TOPIC_ALIAS_INVALID = 0x94
RC_RETAIN_NOT_SUPPORTED = 0x9A
RC_USE_ANOTHER_SERVER = 0x9C
RC_SERVER_MOVED = 0x9D
RC_SHARED_SUBS_NOT_SUPPORTED = 0x9E
RC_SUB_IDS_NOT_SUPPORTED = 0xA1
RC_WILDCARD_SUBS_NOT_SUPPORTED = 0xA2

# 3.1.1 CONNACK return code
RC311_SERVER_UNAVAILABLE = 3

# SUBSCRIBE option bits (v5)
NO_LOCAL = 0x04
RETAIN_AS_PUBLISHED = 0x08
RH_NEW_ONLY = 0x10
RH_NEVER = 0x20


def broker_conf(tern=(), mosq=None, why=None):
    """Keyword arguments for Broker(): ``tern`` lines for ternd, ``mosq``
    lines (mosquitto syntax) in mosquitto mode. mosq None means that
    mosquitto has no equivalent: the test skips there (``why``)."""
    if is_mosquitto():
        if mosq is None:
            raise Skip(why or "no mosquitto equivalent of %r" % (tern,))
        return {"conf": [], "mosq_conf": list(mosq)}
    return {"conf": list(tern)}


def auth(rc=0x18, properties=None):
    """An AUTH packet (reason 0x18 continue authentication by default)."""
    body = bytes([rc])
    if properties:
        body += raw.props(properties)
    else:
        body += raw.varint(0)
    return raw.packet(raw.AUTH, 0, body)


def recv_or_none(c, timeout=0.3):
    """The next packet, or None if nothing arrives within timeout
    (AssertionError if the connection is closed)."""
    try:
        return c.recv(timeout)
    except socket.timeout:
        return None
    except raw.Closed:
        raise AssertionError("connection closed unexpectedly")


def publishes(c, n, timeout=3.0, what="PUBLISH"):
    """Read n PUBLISH packets without acknowledging them."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        left = deadline - time.monotonic()
        try:
            p = c.recv(max(0.01, left))
        except socket.timeout:
            raise TestFailure("%s: got %d of %d PUBLISH packets within "
                              "%.1fs: %r" % (what, len(out), n, timeout, out))
        except raw.Closed:
            raise TestFailure("%s: connection closed after %d of %d "
                              "PUBLISH packets" % (what, len(out), n))
        if p.type != raw.PUBLISH:
            raise TestFailure("%s: expected PUBLISH, got %r" % (what, p))
        out.append(p)
    return out


def drain_publishes(c, quiet=0.3, limit=1000, ack=True, expect=0,
                    timeout=3.0):
    """Read PUBLISH packets until none arrives for ``quiet`` seconds
    (after the first ``expect`` ones, each waited for up to ``timeout``);
    acknowledge them as the receiver when ack."""
    out = []
    while len(out) < limit:
        p = recv_or_none(c, timeout if len(out) < expect else quiet)
        if p is None:
            break
        if p.type != raw.PUBLISH:
            raise TestFailure("expected PUBLISH, got %r" % p)
        if ack:
            c.ack(p)
        out.append(p)
    return out


def drain_many(clients, quiet=0.3, ack=True):
    """drain_publishes on several clients at once: read from all until
    none has had anything for ``quiet`` seconds. Returns one list of
    PUBLISH packets per client."""
    out = [[] for _ in clients]
    last = time.monotonic()
    while time.monotonic() - last < quiet:
        for i, c in enumerate(clients):
            p = recv_or_none(c, 0.01)
            if p is None:
                continue
            if p.type != raw.PUBLISH:
                raise TestFailure("expected PUBLISH, got %r" % p)
            if ack:
                c.ack(p)
            out[i].append(p)
            last = time.monotonic()
    return out


def expect_server_disconnect(c, rc, what, need_disconnect=None,
                             mosq_rc=None):
    """Wait until the server closes c; check that a DISCONNECT with reason
    rc came first (mosq_rc: the reason mosquitto is known to use instead,
    accepted in mosquitto mode only). need_disconnect None: required against ternd,
    tolerated missing against mosquitto (the spec says SHOULD for most
    server DISCONNECTs). Returns the DISCONNECT packet or None."""
    if need_disconnect is None:
        need_disconnect = not is_mosquitto()
    try:
        got = c.wait_closed(5.0)
    except AssertionError as e:
        raise TestFailure("%s: %s" % (what, e))
    finally:
        c.close()
    discs = [p for p in got if p.type == raw.DISCONNECT]
    if not discs:
        check(not need_disconnect, "%s: closed without a DISCONNECT "
              "(received %r)" % (what, got))
        log("%s: closed without DISCONNECT (%s)" % (what, "mosquitto"))
        return None
    check_eq(len(discs), 1, "%s: number of DISCONNECT packets" % what)
    check(got[-1].type == raw.DISCONNECT, "%s: DISCONNECT is the last "
          "packet: %r" % (what, got))
    if is_mosquitto() and mosq_rc is not None and discs[0].reason == mosq_rc:
        log("%s: mosquitto says %#x (ternd: %#x)" % (what, mosq_rc, rc))
        return discs[0]
    check_eq(hex(discs[0].reason), hex(rc), "%s: DISCONNECT reason" % what)
    return discs[0]


class AliasDecoder:
    """Client side of server-to-client topic aliases: checks each PUBLISH
    against the client's Topic Alias Maximum and returns the full topic."""

    def __init__(self, maximum):
        self.maximum = maximum
        self.map = {}

    def topic(self, p):
        alias = p.props.get("topic_alias")
        if alias is None:
            check(p.topic != "", "PUBLISH with an empty topic and no alias")
            return p.topic
        check(1 <= alias <= self.maximum, "alias %d outside 1..%d "
              "[MQTT-3.3.2-11]" % (alias, self.maximum))
        if p.topic:
            self.map[alias] = p.topic
            return p.topic
        check(alias in self.map, "empty topic with alias %d never set"
              % alias)
        return self.map[alias]


def prop_ids(data):
    """The property ids of an encoded property block, in order, repeats
    included (mqttraw's decoder folds them into a dict)."""
    r = raw.Reader(data)
    n = r.varint()
    end = r.i + n
    ids = []
    while r.i < end:
        pid = r.varint()
        ids.append(pid)
        typ = raw.PROPS[pid][1]
        if typ == "byte":
            r.byte()
        elif typ == "u16":
            r.u16()
        elif typ == "u32":
            r.u32()
        elif typ == "varint":
            r.varint()
        elif typ in ("str", "bin"):
            r.bin()
        else:
            r.bin()
            r.bin()
    check_eq(r.i, end, "property block length")
    return ids
