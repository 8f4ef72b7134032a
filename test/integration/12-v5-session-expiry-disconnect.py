#!/usr/bin/env python3
"""MQTT 5 Session Expiry Interval in DISCONNECT (3.14.2.2.2): a client
connected with expiry 60 that disconnects with expiry 0 has its session
discarded (session present 0, queue freed); one connected with expiry 1
that disconnects with 0xFFFFFFFF keeps its session past 1 s (0xFFFFFFFF:
never expires); one connected with expiry 0 that sends a DISCONNECT
with a non-zero expiry gets DISCONNECT 0x82 (Protocol Error)
[MQTT-3.14.2-2] and no session is kept."""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403


def disconnect_with(c, expiry):
    c.send(raw.disconnect(V5, 0, {"session_expiry_interval": expiry}))


def test():
    with Broker() as b:
        # 60 -> 0: session gone, its queue too
        c = raw.Client(b.port, version=V5)
        c.connect("sed-drop", properties={"session_expiry_interval": 60})
        c.subscribe("sed/t", qos=1)
        disconnect_with(c, 0)
        check_eq(c.wait_closed(3.0), [], "nothing after the DISCONNECT")
        c.close()
        # 1 -> 0xFFFFFFFF: kept (with its queue) after more than 1 s
        c = raw.Client(b.port, version=V5)
        c.connect("sed-keep", properties={"session_expiry_interval": 1})
        c.subscribe("sed/t", qos=1)
        disconnect_with(c, 0xFFFFFFFF)
        check_eq(c.wait_closed(3.0), [], "nothing after the DISCONNECT")
        c.close()
        p = raw.Client(b.port, version=V5)
        p.connect("sed-pub")
        p.publish("sed/t", b"queued", qos=1)
        p.disconnect()
        time.sleep(1.6)    # past the CONNECT's 1 s: nothing to poll

        c = raw.Client(b.port, version=V5)
        ack = c.connect("sed-drop", clean=False)
        check_eq(ack.session_present, 0, "expiry set to 0 on DISCONNECT: "
                 "session discarded")
        check(recv_or_none(c, 0.2) is None, "nothing queued for sed-drop")
        c.disconnect()
        c = raw.Client(b.port, version=V5)
        ack = c.connect("sed-keep", clean=False,
                        properties={"session_expiry_interval": 60})
        check_eq(ack.session_present, 1, "expiry raised on DISCONNECT: "
                 "session kept")
        check_eq(c.recv_publish(timeout=3.0).payload, b"queued",
                 "queued message")
        c.disconnect()

        # 0 -> non-zero: protocol error
        by = Bystander(b.port, version=5)
        c = raw.Client(b.port, version=V5)
        c.connect("sed-zero")
        c.subscribe("sed/t", qos=1)
        disconnect_with(c, 30)
        expect_server_disconnect(c, raw.RC_PROTOCOL_ERROR, "DISCONNECT "
                                 "raising expiry 0 to 30")
        c = raw.Client(b.port, version=V5)
        ack = c.connect("sed-zero", clean=False)
        check_eq(ack.session_present, 0, "expiry 0 session not kept")
        c.disconnect()
        by.check()
        by.close()
        c = raw.Client(b.port, version=V5)
        c.connect("sed-keep", clean=True)
        c.disconnect()


main(test)
