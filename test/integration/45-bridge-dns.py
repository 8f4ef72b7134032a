#!/usr/bin/env python3
"""A bridge's address given as a host name is resolved by the node's
resolver (dns_resolv_conf), without blocking the loop:

1. A test DNS server answers bridge-peer.test with 127.0.0.1: the bridge
   to a mosquitto at that name connects and carries messages out.
2. A DNS server that never answers: while the bridge's query to it is
   pending (the server has seen it), the node still serves its clients
   (a CONNECT, SUBSCRIBE and a QoS 1 round trip, and a second client's
   connection), which getaddrinfo() on the loop kept from happening for
   as long as the query lasted. The same for a cluster peer written as
   a name (cluster_peers).
"""
import os
import socket
import sys
import threading
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
from mosqutil import Remote, bridge_conf, wait_bridge_up  # noqa: E402
from dnsutil import DnsServer  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import SECRET  # noqa: E402


class SilentDns:
    """A UDP server on 127.0.0.1 that reads queries and answers none."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                self.sock.recvfrom(512)
            except socket.timeout:
                continue
            except OSError:
                return
            self.queries += 1

    def resolv_conf(self):
        path = tmp_path("silent-resolv.conf")
        with open(path, "w") as f:
            # long and many tries: the query stays pending for the test
            f.write("nameserver %s:%d\noptions timeout:30 attempts:5\n"
                    % (HOST, self.port))
        return path

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


def round_trip(port, tag):
    """A QoS 1 message from a new client to another, through the node."""
    with raw.Client(port, version=raw.V5, timeout=5.0) as sub, \
            raw.Client(port, version=raw.V5, timeout=5.0) as pub:
        sub.connect("dns-sub-" + tag)
        sub.subscribe("dns/%s" % tag, qos=1)
        pub.connect("dns-pub-" + tag)
        pub.publish("dns/%s" % tag, b"through", qos=1)
        p = sub.recv_publish(timeout=5.0)
        check_eq(p.payload, b"through", "%s: the round trip" % tag)


def part_named():
    with DnsServer("bridge-peer.test", ["127.0.0.1"]) as dns, \
            Remote() as r:
        conf = ["dns_resolv_conf %s" % dns.resolv_conf()]
        lines = bridge_conf(r, "named", ["dnsout/# out 1"])
        lines = ["address bridge-peer.test:%d" % r.port
                 if x.startswith("address ") else x for x in lines]
        with Broker(conf=conf + lines, name="named") as b:
            wait_bridge_up(b, "named")
            check(dns.queries >= 1, "the name went to the test's DNS "
                  "server (%d queries)" % dns.queries)
            with Sub(r.port, "dnsout/#", qos=1, wait_secs=10) as s:
                s.wait_ready()
                pub(b.port, "dnsout/a", ["n1", "n2"], qos=1)
                msgs = s.wait_count(2, timeout=10)
                check_eq([m[1] for m in msgs], ["n1", "n2"],
                         "messages out over the bridge to the name")


def part_cluster():
    """A cluster peer written as a name: n1 lists n2 as peer-two.test,
    which only the test's DNS server knows; n1's dial reaches n2."""
    with DnsServer("peer-two.test", ["127.0.0.1"]) as dns:
        p1, p2 = free_port(), free_port()
        common = ["cluster_secret %s" % SECRET]
        n1 = Broker(conf=["dns_resolv_conf %s" % dns.resolv_conf(),
                          "node_name n1",
                          "cluster_listener %s:%d" % (HOST, p1),
                          "cluster_peers %s:%d peer-two.test:%d"
                          % (HOST, p1, p2)] + common, name="n1",
                    start=False)
        n2 = Broker(conf=["node_name n2",
                          "cluster_listener %s:%d" % (HOST, p2),
                          "cluster_peers %s:%d %s:%d"
                          % (HOST, p1, HOST, p2)] + common, name="n2",
                    start=False)
        with n1, n2:
            n1.start()
            n2.start()
            label = "peer-two.test:%d" % p2
            wait_for(lambda: ("(%s) up" % label) in n1.log() or
                     ("cluster peer %s is n2" % label) in n1.log(), 15.0,
                     "n1's dial to %s reaching n2" % label)
            check(dns.queries >= 1, "the name went to the test's DNS "
                  "server")


def part_silent():
    dns = SilentDns()
    try:
        conf = ["dns_resolv_conf %s" % dns.resolv_conf(),
                "connection silent",
                "address silent-bridge.test:1883",
                "restart_timeout 1",
                "topic s/# out 1"]
        with Broker(conf=conf, name="silent") as b:
            wait_for(lambda: dns.queries >= 1, 10.0,
                     "the bridge's query at the silent server")
            log("%d queries pending at the silent server" % dns.queries)
            for k in range(3):
                round_trip(b.port, "silent%d" % k)
            check(b.alive(), "the node runs")
            check("dialling silent-bridge" not in b.log(),
                  "no dial before an answer")
    finally:
        dns.stop()


def test():
    tern_only("bridges to other brokers")
    part_named()
    part_silent()
    part_cluster()


main(test)
