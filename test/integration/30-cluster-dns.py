#!/usr/bin/env python3
"""Cluster: nodes found by DNS (cluster_peers_dns), as on Kubernetes.

A tiny DNS server on 127.0.0.1 (test/lib/dnsutil.py, given to ternd with
dns_resolv_conf) answers for one name the addresses 127.0.0.1, .2 and
.3. Three nodes, on those addresses and one shared cluster port, have
only "cluster_peers_dns <name>:<port>" (cluster_dns_interval 1):
A. they form a full mesh (each dials its own address too, and drops it
   quietly: no warning, no refused link logged above info); a QoS 1
   message published on n1 reaches a persistent subscriber on n3.
B. n3 stops; the name now answers .1, .2 and .4, and n3 starts again on
   127.0.0.4 (same data directory): n1 and n2 link to it at its new
   address, its subscriber gets what was published on n1 meanwhile, and
   messages flow again. Every message n1 acknowledged arrives (QoS 1, at
   least once: each payload counted)."""
import os
import re
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import (Broker, check, free_port, log, main,  # noqa: E402
                     tern_only, wait_for)
import mqttraw as raw  # noqa: E402
from cluster import SECRET  # noqa: E402
from dnsutil import DnsServer  # noqa: E402
from storeutil import Publisher, Receiver, payloads  # noqa: E402

NAME = "tern-nodes.cluster.test"


def links_up(b):
    """Names and addresses of b's outbound links up now."""
    state = {}
    for m in re.finditer(r"cluster link to (\S+) \((\S+)\) (up|down)",
                         b.log()):
        state[m.group(1)] = (m.group(3), m.group(2))
    return {k: v[1] for k, v in state.items() if v[0] == "up"}


def node(i, addr, port, resolv):
    return Broker(name="n%d" % i, start=False, conf=[
        "node_name n%d" % i,
        "cluster_listener %s:%d" % (addr, port),
        "cluster_secret %s" % SECRET,
        "cluster_peers_dns %s:%d" % (NAME, port),
        "cluster_dns_interval 1",
        "dns_resolv_conf %s" % resolv,
        "cluster_route_grace 60",
        "cluster_sync_timeout 2000"])


def wait_mesh(nodes, what, timeout=20.0):
    def mesh():
        for b in nodes:
            want = {o.name for o in nodes if o is not b}
            if not want <= set(links_up(b)):
                return False
        return True
    wait_for(mesh, timeout, what)


def test():
    tern_only("cluster_peers_dns")
    port = free_port()
    addrs = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    with DnsServer(NAME, addrs) as dns:
        resolv = dns.resolv_conf()
        nodes = [node(i + 1, a, port, resolv) for i, a in enumerate(addrs)]
        try:
            run(dns, nodes, port, resolv)
        finally:
            for b in nodes:
                try:
                    b.stop(expect_rc=None)
                finally:
                    b._force_kill()


def run(dns, nodes, port, resolv):
    n1, n2, n3 = nodes
    for b in nodes:
        b.start()
    # A
    wait_mesh(nodes, "A: the full mesh from DNS")
    for b in nodes:
        text = b.log()
        check("is this node: not dialled" in text,
              "A: %s dialled its own address and dropped it" % b.name)
        bad = re.findall(r"Z (?:warning|error): .*", text)
        check(not bad, "A: %s logged no warning or error: %r"
              % (b.name, bad))
        check("identifier not valid" not in text,
              "A: %s logged no refused link" % b.name)
    r = Receiver(n3.port, "dns-sub", version=raw.V5)
    r.connect(clean=False, expect_present=0)
    r.subscribe([("dns/t", 1)])
    time.sleep(0.5)  # the route reaches n1
    p = Publisher(n1.port, "dns-pub", version=raw.V5)
    first = payloads("a", 20)
    p.publish_acked("dns/t", first)
    r.run_until(lambda s: set(first) <= set(s.payloads()), 10.0,
                "A: the messages from n1 at n3")

    # B
    before = r.payloads()
    r.disconnect()
    n3.stop()
    wait_for(lambda: "n3" not in links_up(n1), 10.0, "B: n1's link to n3 "
             "down")
    dns.set(["127.0.0.1", "127.0.0.2", "127.0.0.4"])
    during = payloads("b", 20)
    p.publish_acked("dns/t", during)
    n3.conf = [("cluster_listener 127.0.0.4:%d" % port
                if c.startswith("cluster_listener ") else c)
               for c in n3.conf]
    n3.start()
    wait_mesh(nodes, "B: n3 linked again at 127.0.0.4")
    for b in (n1, n2):
        check(links_up(b)["n3"] == "127.0.0.4:%d" % port,
              "B: %s's link to n3 is to its new address (%r)"
              % (b.name, links_up(b)["n3"]))
    wait_for(lambda: "127.0.0.3:%d: not in the answer" % port in n1.log(),
             10.0, "B: n1 let the old address go")
    r = Receiver(n3.port, "dns-sub", version=raw.V5)
    r.connect(clean=False, expect_present=1)
    after = payloads("c", 20)
    p.publish_acked("dns/t", after)
    every = during + after
    r.run_until(lambda s: set(every) <= set(s.payloads()), 20.0,
                "B: every message n1 acknowledged, at n3")
    got = before + r.payloads()
    every = first + every
    log("B: %d deliveries of %d messages" % (len(got), len(every)))
    check(set(p.acked) == set(every), "B: n1 acknowledged every message")
    check(all(got.count(m) >= 1 for m in p.acked), "B: each acknowledged "
          "message arrived")
    p.close()
    r.end_session()


main(test)
