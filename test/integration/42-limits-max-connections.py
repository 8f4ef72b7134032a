#!/usr/bin/env python3
"""max_connections 3 on the first listener only: a fourth connection there
is closed at once, before any read, while the three keep working and a
second listener without a limit still accepts; once one of the three
goes, a new connection is accepted again."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402,F401
import socket  # noqa: E402

LIMIT = 3


def refused_at_once(port):
    """True when a new connection is closed without a byte, even though
    it sent a whole CONNECT."""
    s = socket.create_connection((HOST, port), timeout=3.0)
    try:
        try:
            s.sendall(raw.connect("over-the-limit"))
        except OSError:
            return True
        try:
            d = s.recv(100)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        return d == b""
    finally:
        s.close()


def test():
    tern_only("max_connections")
    with Broker(conf=["max_connections %d" % LIMIT,
                      "listener 0 %s" % HOST]) as b:
        check_eq(len(b.listeners), 2, "two listeners")
        limited, free = b.listeners[0][1], b.listeners[1][1]
        clients = []
        for i in range(LIMIT):
            c = raw.Client(limited, version=V5 if i % 2 else V311)
            c.connect("c%d" % i)
            clients.append(c)
        for i in range(3):
            check(refused_at_once(limited),
                  "connection %d over max_connections was served"
                  % (LIMIT + 1 + i))
        b.wait_log("max_connections (%d) open" % LIMIT)
        # The three are unaffected.
        clients[0].subscribe("mc/t", qos=1)
        clients[1].publish("mc/t", b"hello", qos=1)
        m = clients[0].recv_publish()
        check_eq(m.payload, b"hello", "message between the three")
        for c in clients:
            c.ping()
        # The other listener has no limit.
        others = []
        for i in range(LIMIT + 2):
            o = raw.Client(free)
            o.connect("free%d" % i)
            others.append(o)
        for o in others:
            o.disconnect()
        # One of the three goes: a new one fits again.
        clients.pop().disconnect()

        def accepted():
            c = raw.Client(limited)
            if c.is_open(0.1):
                return c
            c.close()
            return None
        # Bounded: the broker frees the closed one on a later loop pass.
        n = wait_for(accepted, 3.0, "a connection accepted again")
        n.connect("again")
        n.ping()
        check(refused_at_once(limited), "limit holds after the new one")
        for c in clients + [n]:
            c.disconnect()
        # Refusals were logged once per second at most: not one line per
        # connection refused.
        lines = [x for x in b.log().splitlines()
                 if "max_connections (%d) open" % LIMIT in x]
        check(1 <= len(lines) <= 3, "refusal log lines: %d" % len(lines))


main(test)
