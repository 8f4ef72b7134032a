#!/usr/bin/env python3
"""Only a DISCONNECT with reason 0x00 discards the will (MQTT-3.14.4-3,
3.1.2.5): a v5 client that disconnects with 0x04 (disconnect with will
message) or with an error reason (0x80 unspecified, 0x81 malformed,
0x82 protocol error, 0x93 receive maximum exceeded) has its will
published; with 0x00 it has not (and a 3.1.1 DISCONNECT discards it)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

PUBLISHED = (0x04, 0x80, 0x81, 0x82, 0x93)
DISCARDED = (0x00,)


def disconnect_with(port, version, client_id, rc, topic):
    """Connect with a will on topic, send DISCONNECT rc, wait until the
    broker has closed the connection (so the will decision is taken)."""
    c = raw.Client(port, version=version)
    c.connect(client_id, will=(topic, b"will-" + client_id.encode(), 1,
                               False))
    c.ping()
    c.send(raw.disconnect(version, rc))
    got = c.wait_closed(3.0)
    c.close()
    check(not got, "%s: nothing but the close after DISCONNECT %#x: %r"
          % (client_id, rc, got))


def sentinel(port, w, n):
    """Publish a marker and return what the watcher gets before it (the
    wills published before the marker)."""
    p = raw.Client(port, version=V5)
    p.connect("will-sentinel-%d" % n)
    p.publish("will/sentinel", b"mark-%d" % n, qos=1)
    p.disconnect()
    before = []
    while True:
        m = w.recv_publish(timeout=3.0)
        if m.topic == "will/sentinel":
            check_eq(m.payload, b"mark-%d" % n, "sentinel payload")
            return before
        before.append(m)


def test():
    with Broker() as b:
        w = raw.Client(b.port, version=V5)
        w.connect("will-watcher")
        w.subscribe("will/#", qos=1)
        n = 0
        cases = [(V5, rc) for rc in DISCARDED + PUBLISHED] + [(V311, 0)]
        for version, rc in cases:
            n += 1
            cid = "willer-%d-%02x" % (version, rc)
            topic = "will/%d/%02x" % (version, rc)
            disconnect_with(b.port, version, cid, rc, topic)
            got = [(m.topic, m.payload, m.qos) for m in sentinel(b.port, w,
                                                                 n)]
            published = version == V5 and rc != 0
            if is_mosquitto() and published and rc != 0x04 and not got:
                # mosquitto 2.0.11 publishes the will for 0x04 only
                log("mosquitto: no will after DISCONNECT %#x" % rc)
                continue
            if published:
                check_eq(got, [(topic, b"will-" + cid.encode(), 1)],
                         "v%d DISCONNECT %#x: will published once"
                         % (version, rc))
            else:
                check_eq(got, [], "v%d DISCONNECT %#x: will discarded"
                         % (version, rc))
        w.expect_none(0.1)
        w.disconnect()


main(test)
