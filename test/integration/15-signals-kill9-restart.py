#!/usr/bin/env python3
"""After SIGKILL the broker restarts on the same port at once (the stale
ready file is replaced, the port is reusable) and clients work again. A
persistent session survives with the store on (the default) and is gone
with `store off`."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def one(store_on):
    with Broker(conf=[] if store_on else ["store off"]) as b:
        c = raw.Client(b.port, version=V311)
        c.connect("k9", clean=False)
        c.subscribe("k9/t", qos=1)
        port = b.port
        b.restart(graceful=False)
        check_eq(b.port, port, "same port after restart")
        check(c.wait_closed(3.0) == [], "old connection closed")
        c = raw.Client(b.port, version=V311)
        ack = c.connect("k9", clean=False)
        if not is_mosquitto():
            check_eq(ack.session_present, 1 if store_on else 0,
                     "session present after kill -9 (store %s)" %
                     ("on" if store_on else "off"))
        c.subscribe("k9/t", qos=1)
        c.publish("k9/t", b"again", qos=1)
        check_eq(c.recv_publish().payload, b"again", "works after restart")
        c.disconnect()
        c = raw.Client(b.port, version=V311)
        c.connect("k9", clean=True)
        c.disconnect()


def test():
    one(True)
    if not is_mosquitto():
        one(False)


main(test)
