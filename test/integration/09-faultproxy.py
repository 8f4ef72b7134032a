#!/usr/bin/env python3
"""The fault proxy of test/lib/faultproxy.py against a real broker: MQTT
works through it (CONNECT/CONNACK, a QoS 1 round trip); cut() resets
connected clients; partition() refuses new connections until heal() or
its timeout; stall() forwards nothing and closes nothing, then (holding)
delivers what it held, or (discarding) resets the connections that lost
bytes; set_latency() delays each direction and keeps the order;
set_bandwidth() paces each direction; close() leaves no thread, socket
or listener behind. Timing checks are lower bounds only."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

BIG = 200 * 1000          # bytes through the bandwidth limit
RATE = 100 * 1000         # bytes per second


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def client(port, cid, version=V311, timeout=5.0):
    c = raw.Client(port, version=version, timeout=timeout)
    c.connect(cid)
    return c


def try_connack(port, cid, timeout=2.0):
    """Connect through the proxy; the CONNACK, or None if the connection
    failed (refused, reset or closed) before one came."""
    c = None
    try:
        c = raw.Client(port, timeout=timeout)
        c.send(raw.connect(cid))
        p = c.recv(timeout)
        return p if p.type == raw.CONNACK else None
    except (OSError, raw.Closed):
        return None
    finally:
        if c is not None:
            c.close()


def test():
    with Broker() as b:
        fds0 = open_fds()
        threads0 = threading.active_count()
        p = FaultProxy(b.port).start()
        check(p.port != b.port and p.port > 0, "proxy bound a port of "
              "its own (%r)" % p.port)

        # -- CONNECT/CONNACK and a QoS 1 round trip, both through it
        sub = raw.Client(p.port, version=V5)
        ack = sub.connect("fp-sub")
        check_eq(ack.reason, 0, "CONNACK through the proxy")
        sub.subscribe("fp/t", qos=1)
        pub = client(p.port, "fp-pub")
        check_eq(pub.publish("fp/t", b"one", qos=1).type, raw.PUBACK,
                 "PUBACK through the proxy")
        m = sub.recv_publish(timeout=3.0)
        check_eq((m.topic, m.payload, m.qos), ("fp/t", b"one", 1),
                 "message through the proxy")
        check_eq(p.connections, 2, "connections accepted")
        check_eq(p.open_connections(), 2, "open connections")
        check(p.bytes_up > 0 and p.bytes_down > 0, "bytes counted up %d "
              "down %d" % (p.bytes_up, p.bytes_down))

        # -- cut(): both clients see their socket closed at once
        check_eq(p.cut(), 2, "connections cut")
        t0 = time.monotonic()
        for c in (sub, pub):
            c.wait_closed(2.0)
            c.close()
        log("cut seen by both clients after %.3fs" % (time.monotonic() - t0))
        check_eq(p.open_connections(), 0, "open connections after cut")
        c = client(p.port, "fp-after-cut")
        c.ping(timeout=3.0)

        # -- partition(2): the open connection is cut, a new one fails
        # while it lasts, and succeeds after heal()
        p.partition(2)
        c.wait_closed(2.0)
        c.close()
        check(try_connack(p.port, "fp-part-1") is None,
              "a connection during the partition got a CONNACK")
        check(p.refused >= 1, "refused connections counted (%d)"
              % p.refused)
        p.heal()
        ack = try_connack(p.port, "fp-part-2")
        check(ack is not None and ack.reason == 0,
              "CONNACK after heal(): %r" % (ack,))
        # and a timed partition ends by itself
        p.partition(1.0)
        check(try_connack(p.port, "fp-part-3") is None,
              "a connection during the timed partition got a CONNACK")
        wait_for(lambda: try_connack(p.port, "fp-part-4") is not None, 10.0,
                 "a CONNACK once the 1 s partition is over")
        check(not p.partitioned(), "partition over")

        # -- stall() holding bytes: nothing forwarded, nothing closed,
        # new connections accepted but not forwarded; after heal() the
        # held bytes go through and the connections go on
        c = client(p.port, "fp-stall", version=V5)
        p.stall()
        c.send(raw.pingreq())
        c.expect_none(1.0)          # no PINGRESP, and not closed
        late = raw.Client(p.port)   # accepted by the proxy...
        late.send(raw.connect("fp-stall-late"))
        late.expect_none(1.0)       # ...but no CONNACK during the stall
        check(c.is_open(0.1), "stalled connection still open")
        p.heal()
        c.expect(raw.PINGRESP, timeout=3.0, what="held PINGREQ after heal")
        c.ping(timeout=3.0)
        check_eq(late.expect(raw.CONNACK, timeout=3.0,
                             what="held CONNECT").reason, 0,
                 "CONNACK of the connection made during the stall")
        late.ping(timeout=3.0)
        late.disconnect()

        # a timed stall ends by itself
        p.stall(1.0)
        c.send(raw.pingreq())
        c.expect_none(0.5)
        c.expect(raw.PINGRESP, timeout=5.0, what="PINGRESP after the 1 s "
                 "stall")
        check(not p.stalled(), "stall over")

        # -- stall(discard=True): bytes are dropped; on heal() the
        # connections that lost bytes are reset, the others go on
        idle = client(p.port, "fp-idle")
        p.stall(discard=True)
        c.send(raw.pingreq())
        c.expect_none(1.0)
        p.heal()
        c.wait_closed(2.0)
        c.close()
        idle.ping(timeout=3.0)
        idle.disconnect()

        # -- latency: 200 ms each way
        c = client(p.port, "fp-latency")
        p.set_latency(200)
        t0 = time.monotonic()
        c.ping(timeout=5.0)
        rtt = time.monotonic() - t0
        log("PINGREQ->PINGRESP with 200 ms latency: %.3fs" % rtt)
        check(rtt >= 0.35, "round trip %.3fs with 200 ms one-way latency"
              % rtt)
        # order is kept when the latency drops with chunks in flight:
        # 10 messages at 300 ms, then 10 at 0 ms, all in order
        direct = client(b.port, "fp-order-sub")
        direct.subscribe("fp/order", qos=0)
        p.set_latency(300)
        for i in range(10):
            c.send(raw.publish("fp/order", b"%02d" % i))
        p.set_latency(0)
        for i in range(10, 20):
            c.send(raw.publish("fp/order", b"%02d" % i))
        got = [direct.recv_publish(timeout=5.0).payload for _ in range(20)]
        check_eq(got, [b"%02d" % i for i in range(20)],
                 "order kept across a latency change")
        c.disconnect()

        # -- bandwidth: 200 KB through 100 KB/s, each direction
        payload = bytes(range(256)) * (BIG // 256) + b"x" * (BIG % 256)
        p.set_bandwidth(RATE)
        up = client(p.port, "fp-bw-pub")
        direct.subscribe("fp/big", qos=1, mid=2)
        t0 = time.monotonic()
        up.publish("fp/big", payload, qos=1)   # waits for the PUBACK
        dt = time.monotonic() - t0
        log("200 KB up through 100 KB/s: %.3fs" % dt)
        check(dt >= 1.5, "200 KB went up in %.3fs through 100 KB/s" % dt)
        check_eq(direct.recv_publish(timeout=5.0).payload, payload,
                 "payload sent through the limit")
        down = raw.Client(p.port, version=V5)
        down.connect("fp-bw-sub")
        down.subscribe("fp/big", qos=1)
        t0 = time.monotonic()
        pub = client(b.port, "fp-bw-direct")
        pub.publish("fp/big", payload, qos=1)
        got = down.recv_publish(timeout=10.0).payload
        dt = time.monotonic() - t0
        log("200 KB down through 100 KB/s: %.3fs" % dt)
        check(dt >= 1.5, "200 KB came down in %.3fs through 100 KB/s" % dt)
        check_eq(got, payload, "payload received through the limit")
        check_eq(direct.recv_publish(timeout=5.0).payload, payload,
                 "direct subscriber's copy")
        p.set_bandwidth(None)
        up.publish("fp/big", payload, qos=1, mid=2)
        check_eq(down.recv_publish(timeout=10.0).payload, payload,
                 "payload after the limit is lifted")
        direct.recv_publish(timeout=5.0)
        for c in (up, down, pub, direct):
            c.disconnect()

        # -- close(): no thread, no socket, no listener left
        wait_for(lambda: p.open_connections() == 0, 5.0,
                 "proxy connections closed after the clients left")
        port = p.port
        p.close()
        p.close()   # idempotent
        check(not p._thread.is_alive(), "proxy thread joined")
        wait_for(lambda: threading.active_count() <= threads0, 5.0,
                 "no thread left")
        wait_for(lambda: open_fds() <= fds0, 5.0,
                 "descriptors back to %d (now %d)" % (fds0, open_fds()))
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1.0)
        except OSError:
            s = None
        if s is not None:
            s.close()
            raise TestFailure("port %d still accepts after close()" % port)
        try:
            p.cut()
        except RuntimeError:
            pass
        else:
            raise TestFailure("cut() on a closed proxy did not fail")


main(test)
