#!/usr/bin/env python3
"""Cluster links over mutual TLS (cluster_certfile, cluster_keyfile,
cluster_cafile): three nodes, each with its own certificate from one CA.

- Every link comes up, and both ends say it went through a TLS handshake
  (the dialling end saw the listener's certificate, the listener the
  dialler's).
- QoS 1 and QoS 2 messages published on one node reach subscribers on
  the two others: every acknowledged message arrives, in order, QoS 2
  exactly once (no duplicate delivered, none missing).
- On the wire the link is TLS: a relay that n2 dials n1 through records
  a TLS handshake record first, and neither the cluster_secret nor a
  topic or payload in the clear.
- A plain MQTT client on a TLS cluster listener gets no CONNACK."""
import os
import socket
import sys
import threading
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import HOST, check, check_eq, log, main  # noqa: E402
import mqttraw as raw  # noqa: E402
import tlsutil  # noqa: E402
from cluster import SECRET, Cluster  # noqa: E402
from storeutil import (Publisher, Receiver, check_in_order_once,  # noqa
                       payloads)

N = 200


class Relay:
    """Accepts one connection at a time on .port, connects it to target
    and copies bytes both ways, keeping what went upstream (.up) and
    downstream (.down). Stopped by close() (bounded joins)."""

    def __init__(self, target):
        self.target = target
        self.up = bytearray()
        self.down = bytearray()
        self.lock = threading.Lock()
        self.ls = socket.socket()
        self.ls.bind((HOST, 0))
        self.ls.listen(8)
        self.ls.settimeout(0.2)
        self.port = self.ls.getsockname()[1]
        self.stopping = False
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self):
        while not self.stopping:
            try:
                a, _ = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                b = socket.create_connection((HOST, self.target), 5)
            except OSError:
                a.close()
                continue
            for src, dst, buf in ((a, b, self.up), (b, a, self.down)):
                t = threading.Thread(target=self._copy,
                                     args=(src, dst, buf), daemon=True)
                t.start()
                self.threads.append(t)

    def _copy(self, src, dst, buf):
        src.settimeout(0.2)
        while not self.stopping:
            try:
                d = src.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not d:
                break
            with self.lock:
                buf += d
            try:
                dst.sendall(d)
            except OSError:
                break
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.stopping = True
        self.ls.close()
        for t in self.threads:
            t.join(2)


def cross(cl, qos, src, dsts, tag):
    topic = "tls/q%d/%s" % (qos, tag)
    subs = []
    for i in dsts:
        r = Receiver(cl[i].port, "tls-sub-%s-%d" % (tag, i), version=raw.V5)
        r.connect(clean=True)
        r.subscribe([(topic, qos)])
        subs.append(r)
    # the SUBACK waits for every node's route confirmation
    # (cluster_sync_timeout), so the routes are in everywhere now
    p = Publisher(cl[src].port, "tls-pub-%s" % tag, version=raw.V5)
    want = list(p.publish_acked(topic, payloads(tag, N), qos=qos))
    check_eq(len(want), N, "%s: messages acknowledged" % tag)
    p.close()
    for r, i in zip(subs, dsts):
        r.run_until(lambda r: len(r.delivered) >= N and
                    not r.awaiting_rel, 30.0,
                    "%d messages on n%d" % (N, i + 1))
        r.expect_quiet(0.5)
        check_in_order_once(r.payloads(), want, "%s: n%d -> n%d at QoS %d"
                            % (tag, src + 1, i + 1, qos))
        check_eq({d[2] for d in r.delivered}, {qos}, "%s: delivered QoS"
                 % tag)
        if qos == 2:
            check_eq(len(r.dups), 0, "%s: QoS 2 duplicates at n%d"
                     % (tag, i + 1))
        r.disconnect()


def test():
    ca = tlsutil.CA()
    node_conf = {}
    for name in ("n1", "n2", "n3"):
        crt, key, _ = ca.issue(name, name, node=True)
        node_conf[name] = tlsutil.cluster_conf(crt, key, ca.crt)
    with Cluster(3, node_conf=node_conf, start=False) as cl:
        relay = Relay(cl.cports[0])
        try:
            # n2 also dials n1 through the relay; one of its two dials
            # to n1 wins, the other is closed after its CONNACK: a link
            # handshake crosses the relay either way
            cl[1].conf.append("cluster_peers %s:%d" % (HOST, relay.port))
            cl.start()
            for i in range(3):
                text = cl[i].log()
                for j in range(3):
                    if j == i:
                        continue
                    check("%s:%d: TLS handshake done: TLSv1.2"
                          % (HOST, cl.cports[j]) in text,
                          "n%d: its link to n%d went through a TLS "
                          "handshake" % (i + 1, j + 1))
                check(text.count(", client certificate CN=n") >= 2,
                      "n%d: the links from the other nodes presented "
                      "their certificates" % (i + 1))
                check(text.count(", server certificate CN=n") >= 2,
                      "n%d: the nodes it dialled presented their "
                      "certificates" % (i + 1))

            cross(cl, 1, 0, [1, 2], "a")
            cross(cl, 2, 1, [0, 2], "b")
            cross(cl, 2, 2, [0, 1], "c")

            with relay.lock:
                up, down = bytes(relay.up), bytes(relay.down)
            log("relay: %d bytes up, %d down" % (len(up), len(down)))
            check(len(up) > 0 and len(down) > 0, "a link crossed the relay")
            check(up[:2] == b"\x16\x03" and down[:2] == b"\x16\x03",
                  "the relayed link opens with TLS handshake records: "
                  "%r / %r" % (up[:8], down[:8]))
            for clear in (SECRET.encode(), b"$cluster/", b"tern-node"):
                check(clear not in up and clear not in down,
                      "%r in the clear on the link" % clear)
        finally:
            relay.close()

        # a plain client on the TLS cluster listener: no CONNACK
        c = raw.Client(cl.cports[0], version=raw.V5)
        c.send(raw.connect("plain-on-tls-cluster", version=raw.V5))
        got = c.wait_closed(5.0)
        c.close()
        check(not any(p.type == raw.CONNACK for p in got),
              "no CONNACK for a plain client: %r" % (got,))
        cl[0].wait_log("cluster link from %s:" % HOST)
        cl[0].wait_log("the peer does not speak TLS: first byte 0x10, "
                       "plaintext MQTT")


main(test)
