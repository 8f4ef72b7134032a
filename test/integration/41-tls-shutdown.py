#!/usr/bin/env python3
"""Closing a TLS connection flushes its last records: on SIGTERM a v5
client over TLS gets its DISCONNECT 0x8B (Server shutting down) before the
close, and ternd exits 0 with several TLS clients connected; a protocol
error gets its DISCONNECT 0x82 over TLS too. One client has not read
16 MB of messages when SIGTERM comes: when it reads, the messages that
were in its output (up to 2 MiB past the kernel's buffers; the rest wait
in its queue, deliver.c) and then the DISCONNECT are there: the records
still waiting for the socket when the connection is freed, ahead of the
DISCONNECT, are not thrown away."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
import signal  # noqa: E402
import tlsutil  # noqa: E402


def test():
    tern_only("TLS listener keys")
    ca = tlsutil.CA()
    crt, key, _ = ca.issue("server", HOST)
    ctx = tlsutil.client_context(ca.crt)
    with Broker(conf=tlsutil.listener_conf(crt, key)) as b:
        bad = raw.Client(b.port, version=raw.V5, ssl_context=ctx)
        bad.connect("tls-bad")
        bad.send(raw.connect("again", version=raw.V5))
        got = bad.wait_closed(3.0)
        discs = [p for p in got if p.type == raw.DISCONNECT]
        check(len(discs) == 1 and discs[0].reason == raw.RC_PROTOCOL_ERROR,
              "DISCONNECT 0x82 over TLS before the close: %r" % (got,))
        bad.close()

        clients = []
        for i in range(5):
            c = raw.Client(b.port, version=raw.V5, ssl_context=ctx,
                           timeout=20)
            c.connect("tls-down-%d" % i)
            c.subscribe("down/%d" % i, qos=1)
            clients.append(c)
        p = raw.Client(b.port, version=raw.V5, ssl_context=ctx, timeout=20)
        p.connect("tls-down-pub")
        big = [bytes([65 + i]) * 1000000 for i in range(16)]
        for i, payload in enumerate(big):
            p.publish("down/0", payload, qos=1, mid=i + 1)
        p.disconnect()
        b.signal(signal.SIGTERM)
        for i, c in enumerate(clients):
            got = c.wait_closed(10.0)
            pubs = [q.payload for q in got if q.type == raw.PUBLISH]
            discs = [q for q in got if q.type == raw.DISCONNECT]
            if i == 0:
                # What was in its output (at most OUTPUT_PUMP_MAX past
                # the kernel's buffers) comes, in order, before the
                # DISCONNECT that follows it there; the rest of its
                # clean session's queue ends with the node.
                log("client 0: %d of 16 messages before the close" %
                    len(pubs))
                check(len(pubs) >= 1 and pubs == big[:len(pubs)],
                      "client 0: the messages of its output, in order, "
                      "before the close (got %d)" % len(pubs))
            check(len(discs) == 1 and
                  discs[0].reason == raw.RC_SERVER_SHUTTING_DOWN and
                  got[-1].type == raw.DISCONNECT,
                  "client %d: DISCONNECT 0x8B last before the close: %r"
                  % (i, [q.type for q in got]))
            c.close()
        check_eq(b.wait_exit(), 0, "exit status")
        b.check_log_clean()


main(test)
