#!/usr/bin/env python3
"""A v5 CONNACK respects the client's Maximum Packet Size (MQTT-3.1.2-24):
when the full CONNACK would be too large, the properties that can go
(Response Information, the "... available: 0" flags) are left out and the
client gets a CONNACK that fits, with reason 0 and still the Assigned
Client Identifier and the limits it must obey (Receive Maximum, Topic
Alias Maximum, Maximum Packet Size); when even that does not fit (e.g.
Maximum Packet Size 5 with an empty client id), no CONNACK is sent and the
connection is closed at once (it used to stay open, unanswered)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

# what the server keeps in a CONNACK cut down to fit
KEPT = ("assigned_client_identifier", "server_keep_alive", "receive_maximum",
        "maximum_packet_size", "maximum_qos", "retain_available",
        "topic_alias_maximum")
OPTIONAL_CONF = [
    "response_information response/topic/for/the/clients/of/this/node",
    "wildcard_subscription_available false",
    "subscription_identifier_available false",
    "shared_subscription_available false",
]
REQ = {"request_response_information": 1}

_n = [0]


def packet_size(p):
    return 1 + len(raw.varint(len(p.body))) + len(p.body)


def connack_for(port, client_id, limit, props=None):
    """CONNECT with Maximum Packet Size limit (None: none). Returns
    (client, CONNACK) or (None, packets received before the close)."""
    _n[0] += 1
    pr = dict(props or {})
    if limit is not None:
        pr["maximum_packet_size"] = limit
    c = raw.Client(port, version=V5)
    c.send(raw.connect(client_id, version=V5, properties=pr))
    try:
        p = c.recv(timeout=3.0)
    except raw.Closed:
        c.close()
        return None, []
    except Exception:
        c.close()
        raise TestFailure("id %r, limit %r: no CONNACK and the connection "
                          "still open after 3s" % (client_id, limit))
    check_eq(p.type, raw.CONNACK, "first packet from the server")
    return c, p


def size_with(props):
    """The size of a CONNACK (reason 0) carrying exactly props."""
    body = bytes([0, 0]) + raw.props(props)
    return 1 + len(raw.varint(len(body))) + len(body)


def check_fits(port, client_id, limit, full, props=None):
    """A CONNACK comes, no larger than limit, reason 0; the kept
    properties are there (the assigned id when client_id is empty)."""
    c, p = connack_for(port, client_id, limit, props)
    check(c is not None, "id %r, limit %d: connection closed without "
          "CONNACK" % (client_id, limit))
    size = packet_size(p)
    log("id %r, limit %d: CONNACK of %d bytes, props %r"
        % (client_id, limit, size, sorted(p.props)))
    check(size <= limit, "id %r: CONNACK of %d bytes over the limit %d"
          % (client_id, size, limit))
    check_eq(p.reason, 0, "id %r, limit %d: CONNACK reason"
             % (client_id, limit))
    for name in full.props:
        if name in KEPT:
            check(name in p.props, "id %r, limit %d: %s kept"
                  % (client_id, limit, name))
    if client_id == "":
        check("assigned_client_identifier" in p.props,
              "assigned id in the CONNACK")
    # the connection works within its limit
    c.ping()
    t = "m%d" % _n[0]
    c.subscribe(t, qos=1)
    c.publish(t, b"ok", qos=1, mid=2)
    if len(raw.publish(t, b"ok", qos=1, mid=2, version=V5)) <= limit:
        m = c.recv_publish(timeout=3.0)
        check_eq(m.payload, b"ok", "message on the cut-down connection")
    c.disconnect()
    return p


def check_closed(port, client_id, limit, props=None):
    c, got = connack_for(port, client_id, limit, props)
    if c is not None:
        c.close()
        raise TestFailure("id %r, limit %d: got %r (%d bytes) instead of a "
                          "close" % (client_id, limit, got,
                                     packet_size(got)))
    log("id %r, limit %d: closed without CONNACK" % (client_id, limit))


def test():
    # default config: nothing optional in the CONNACK, so it fits whole
    # or not at all
    with Broker() as b:
        by = Bystander(b.port, version=V5)
        for cid in ("", "mps-named"):
            c, full = connack_for(b.port, cid, None)
            c.disconnect()
            fs = packet_size(full)
            log("id %r: full CONNACK %d bytes %r" % (cid, fs, full.props))
            check_fits(b.port, cid, fs, full)
            if is_mosquitto():
                # mosquitto 2.0.11 does not count the fixed header
                log("mosquitto: limit %d (one byte short) not checked"
                    % (fs - 1))
            else:
                check_closed(b.port, cid, fs - 1)
            check_closed(b.port, cid, 5)
            by.check()
        by.close()

    if is_mosquitto():
        log("the optional CONNACK properties are ternd config keys: "
            "the rest is tern-only")
        return

    with Broker(conf=OPTIONAL_CONF, name="optional") as b:
        by = Bystander(b.port, version=V5)
        for cid in ("", "mps-named"):
            c, full = connack_for(b.port, cid, None, REQ)
            c.disconnect()
            fs = packet_size(full)
            for name in ("response_information",
                         "wildcard_subscription_available",
                         "subscription_identifier_available",
                         "shared_subscription_available"):
                check(name in full.props, "full CONNACK has %s" % name)
            kept = [(k, v) for k, v in full.props.items() if k in KEPT]
            small = size_with(kept)
            log("id %r: full CONNACK %d bytes, without the optional "
                "properties %d" % (cid, fs, small))
            check(small < fs, "the optional properties take room")
            for limit in (fs - 1, small + 1, small):
                p = check_fits(b.port, cid, limit, full, REQ)
                check("response_information" not in p.props,
                      "limit %d: Response Information left out" % limit)
            check_closed(b.port, cid, small - 1, REQ)
            check_closed(b.port, cid, 5, REQ)
            by.check()
        by.close()


main(test)
