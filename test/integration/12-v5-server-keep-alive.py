#!/usr/bin/env python3
"""max_keepalive 2: a v5 client asking for keep alive 0 (none) or 60
gets CONNACK Server Keep Alive 2 (3.2.2.3.14) and must use it
[MQTT-3.2.2-21]: a client that asked for 0 and stays silent is
disconnected after 1.5 x 2 s (DISCONNECT 0x8D); a client asking for 1
keeps 1 (no property or 1). (mosquitto refuses max_keepalive below 10:
there 10 is used and the time-out is not waited for. The 60 -> 10 case
is 10-limits-max-keepalive.py.)"""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403


def test():
    k = 10 if is_mosquitto() else 2
    with Broker(conf=["max_keepalive %d" % k]) as b:
        for ka in (0, 60):
            c = raw.Client(b.port, version=V5)
            ack = c.connect("ska-%d" % ka, keepalive=ka)
            check_eq(ack.props.get("server_keep_alive"), k,
                     "CONNACK Server Keep Alive for keep alive %d" % ka)
            c.disconnect()
        c = raw.Client(b.port, version=V5)
        ack = c.connect("ska-1", keepalive=1)
        check(ack.props.get("server_keep_alive") in (None, 1),
              "Server Keep Alive for keep alive 1: %r" % ack.props)
        c.disconnect()
        if is_mosquitto():
            return
        # the keep alive of 2 is enforced on a client that asked for 0
        c = raw.Client(b.port, version=V5)
        c.connect("ska-silent", keepalive=0)
        t0 = time.monotonic()
        got = c.wait_closed(6.0)
        dt = time.monotonic() - t0
        log("silent client closed after %.1f s: %r" % (dt, got))
        check(2.0 <= dt <= 5.0, "closed after 1.5 x 2 s: %.1f s" % dt)
        for p in got:
            check(p.type == raw.DISCONNECT and
                  p.reason == raw.RC_KEEP_ALIVE_TIMEOUT,
                  "only a DISCONNECT 0x8D: %r" % p)


main(test)
