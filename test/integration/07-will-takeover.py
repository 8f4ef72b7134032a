#!/usr/bin/env python3
"""Wills on takeover (MQTT 5.0 3.1.2.5; 3.1.1 as mosquitto does): a phone
that moves from Wi-Fi to mobile data reconnects with its client id while
the old connection is still open. When the session goes on (the new
CONNECT has Clean Start 0 and the old session outlives its connection),
the takeover is a reconnect: the old connection's will is not published,
so presence set by the will does not flap. When the new connection starts
clean, or the old session ended with its connection (v5 expiry 0, 3.1.1
clean session 1), the will is published as at any other close. Both
protocol versions; each will has no delay."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def persistent(version):
    if version == V5:
        return {"clean": False,
                "properties": {"session_expiry_interval": 600}}
    return {"clean": False}


def case(b, w, version, tag, old_persistent, new_clean, will_expected):
    cid = "wt-%s" % tag
    kw = persistent(version) if old_persistent else {"clean": True}
    old = raw.Client(b.port, version=version)
    old.connect(cid, will=("wt/p/" + tag, b"offline", 1, False), **kw)
    new = raw.Client(b.port, version=version)
    ack = new.connect(cid, clean=new_clean,
                      properties=persistent(version).get("properties"))
    old.wait_closed(3.0)
    if will_expected:
        m = w.recv_publish(timeout=3.0)
        check_eq((m.topic, m.payload), ("wt/p/" + tag, b"offline"),
                 "%s: will published" % tag)
    else:
        check_eq(ack.session_present, 1, "%s: session present" % tag)
        # a marker published after the takeover arrives, and no will
        # came before it
        p = raw.Client(b.port, version=V311)
        p.connect(cid + "-mark")
        p.publish("wt/p/marker", tag.encode(), qos=1)
        p.disconnect()
        m = w.recv_publish(timeout=3.0)
        check_eq((m.topic, m.payload), ("wt/p/marker", tag.encode()),
                 "%s: no will before the marker" % tag)
    new.disconnect()
    # end the session
    c = raw.Client(b.port, version=version)
    c.connect(cid, clean=True)
    c.disconnect()
    w.expect_none(0.2)


def test():
    with Broker() as b:
        w = raw.Client(b.port, version=V5)
        w.connect("wt-watch")
        w.subscribe("wt/p/#", qos=1)
        for version, vn in ((V311, "311"), (V5, "5")):
            case(b, w, version, vn + "-goes-on", True, False, False)
            case(b, w, version, vn + "-new-clean", True, True, True)
            case(b, w, version, vn + "-old-clean", False, False, True)
        w.disconnect()


main(test)
