#!/usr/bin/env python3
"""Clients cannot write $SYS/, the node's own topics: a v5 QoS 1 PUBLISH
there is answered 0x87 and a QoS 0 one dropped, a 3.1.1 QoS 1 one gets
its PUBACK (3.1.1 acks carry no reason) and is dropped; none is routed
nor retained, so a spoofed value reaches no subscriber, now or later.
Before, a client's retained $SYS value stood until the node changed it.
A will on $SYS/ is refused at CONNECT (v5 0x87, 3.1.1 return code 5)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from authutil import *  # noqa: E402,F401,F403


def test():
    tern_only("$SYS is read-only for clients")
    with Broker() as b:
        live = raw.Client(b.port, version=V5)
        live.connect("sys-live")
        live.subscribe("$SYS/broker/spoof/#", qos=1)
        v5 = raw.Client(b.port, version=V5)
        v5.connect("sys-v5")
        v5.send(raw.publish("$SYS/broker/spoof/a", b"fake", qos=1, mid=1,
                            retain=True, version=V5))
        ack = v5.expect_ack(raw.PUBACK, 1, timeout=5.0)
        check_eq(ack.reason, RC_NOT_AUTHORIZED, "v5 QoS 1 on $SYS/")
        v5.publish("$SYS/broker/spoof/b", b"fake", qos=0, retain=True)
        v5.ping()
        v311 = raw.Client(b.port, version=V311)
        v311.connect("sys-v311")
        v311.send(raw.publish("$SYS/broker/spoof/c", b"fake", qos=1,
                              mid=1, retain=True))
        v311.expect_ack(raw.PUBACK, 1, timeout=5.0)
        v311.ping()
        live.expect_none(0.5)
        late = raw.Client(b.port, version=V5)
        late.connect("sys-late")
        late.subscribe("$SYS/broker/spoof/#", qos=1)
        late.expect_none(0.5)
        # A will there is refused at CONNECT (it would be published,
        # retained if it asks, when the client goes).
        for version, rc in ((V5, RC_NOT_AUTHORIZED), (V311, 5)):
            w = raw.Client(b.port, version=version)
            w.connect("sys-will-%d" % version, rc=rc,
                      will=("$SYS/broker/spoof/w", b"fake", 1, True))
            w.close()
        live.expect_none(0.5)
        for c in (live, v5, v311, late):
            c.disconnect()


main(test)
