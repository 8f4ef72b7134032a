#!/usr/bin/env python3
"""max_keepalive 4: a v5 client asking for keep alive 0 (none) or 60
gets CONNACK Server Keep Alive 4 (3.2.2.3.14) and must use it
[MQTT-3.2.2-21]; a client asking for 1 keeps 1 (no property or 1).
(mosquitto refuses max_keepalive below 10: there 10 is used and the
time-out is not waited for. The 60 -> 10 case is
10-limits-max-keepalive.py.)

The keep alive is enforced, asserted as an order, not a time (the
machine is shared: noise only makes a close later). Three clients
connected together: one that asked for 0 and stays silent (4 s: closed
after 1.5 x 4 s), then one that keeps 1 and stays silent (closed after
1.5 s), then one that asked for 0 and sends PINGREQ every half second.
The second is closed first, with DISCONNECT 0x8D, while the first is
still open; then the first, with DISCONNECT 0x8D, while the pinging one
still is, and is answered. No close comes before 1.5 x its keep alive
after its CONNECT went (that would be a bug, not noise), less the
granularity of the broker's clock."""
import os
import selectors
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403

PING_EVERY = 0.5  # s
BOUND = 30.0  # s: the loop gives up (a broker that closes nobody)


def silent(port, cid, keepalive, want):
    """A client connected with keepalive, its CONNACK's Server Keep Alive
    checked (want, or None for none); (client, time its CONNECT went)."""
    c = raw.Client(port, version=V5)
    t = time.monotonic()
    ack = c.connect(cid, keepalive=keepalive)
    check_eq(ack.props.get("server_keep_alive"), want,
             "CONNACK Server Keep Alive of %s" % cid)
    return c, t


def closes_in_order(port, k):
    long_, t_long = silent(port, "ska-silent", 0, k)
    short, t_short = silent(port, "ska-short", 1, None)
    pinger, _ = silent(port, "ska-pinger", 0, k)
    limits = {"ska-silent": (long_, t_long, 1.5 * k),
              "ska-short": (short, t_short, 1.5)}
    sel = selectors.DefaultSelector()
    for cid, (c, _, _) in limits.items():
        sel.register(c.sock, selectors.EVENT_READ, cid)
    closed = []  # (client id, seconds after its CONNECT, open then)
    pings = 0
    deadline = time.monotonic() + BOUND
    last_ping = time.monotonic()
    while len(closed) < 2 and time.monotonic() < deadline:
        ready = [key.data for key, _ in sel.select(PING_EVERY / 2)]
        for cid in ready:
            c, t0, _ = limits[cid]
            sel.unregister(c.sock)
            got = c.wait_closed(5.0)
            dt = time.monotonic() - t0
            still = [x for x in limits if x not in ready and
                     x not in [y[0] for y in closed]]
            log("%s closed %.2f s after its CONNECT (%r); still open: %s"
                % (cid, dt, got, still))
            for p in got:
                check(p.type == raw.DISCONNECT and
                      p.reason == raw.RC_KEEP_ALIVE_TIMEOUT,
                      "%s: only a DISCONNECT 0x8D: %r" % (cid, p))
            check(len(got) == 1, "%s: a DISCONNECT before the close: %r"
                  % (cid, got))
            closed.append((cid, dt, still))
        if time.monotonic() - last_ping >= PING_EVERY:
            pinger.ping(timeout=10.0)
            pings += 1
            last_ping = time.monotonic()
    sel.close()
    log("closed: %r; %d PINGREQs answered meanwhile" % (closed, pings))
    check(len(closed) == 2, "both silent clients closed within %.0f s: "
          "%r" % (BOUND, [x[0] for x in closed]))
    check_eq([x[0] for x in closed], ["ska-short", "ska-silent"],
             "order of the closes")
    check_eq(closed[0][2], ["ska-silent"], "open when ska-short (keep "
             "alive 1) was closed")
    # Less 0.1 s: the broker's loop reads a coarse clock (a few ms; a
    # close 1.4977 s after the CONNECT went was seen).
    for cid, dt, _ in closed:
        check(dt >= limits[cid][2] - 0.1, "%s not closed before 1.5 x "
              "its keep alive (%.1f s): %.2f s" % (cid, limits[cid][2], dt))
    pinger.ping(timeout=10.0)
    pinger.disconnect()
    long_.close()
    short.close()


def test():
    k = 10 if is_mosquitto() else 4
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
        closes_in_order(b.port, k)


main(test)
