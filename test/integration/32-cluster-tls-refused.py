#!/usr/bin/env python3
"""Cluster links over mutual TLS: a node whose certificate the others do
not accept cannot join, and both ends log why.

Four nodes: n1 and n2 have certificates from the cluster CA, n3 one from
another CA, n4 an expired one from the cluster CA.
- n1 and n2 link; no link between n3 or n4 and any node comes up, either
  way.
- Each refusal is logged as a warning on both ends, with the reason: n1
  says n3's certificate is "not correctly signed by the trusted CA" and
  n4's "validity has expired"; n3 and n4 hear the alert n1 and n2 sent
  (or name n1's certificate as untrusted: n3's CA is not n1's).
- No message crosses between n3/n4 and n1/n2, either way, while n1 and
  n2 exchange theirs.
- A client with no certificate on n1's cluster listener: no CONNACK,
  logged "No client certification received".
- A client with a good node certificate but a wrong cluster_secret:
  CONNACK 0x86 (the secret is checked on top of the certificate)."""
import os
import ssl
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import HOST, check, check_eq, log, main, wait_for  # noqa: E402
import mqttraw as raw  # noqa: E402
import tlsutil  # noqa: E402
from cluster import Cluster  # noqa: E402
from storeutil import Receiver  # noqa: E402


def warnings(b, text):
    return [ln for ln in b.log().splitlines()
            if text in ln and " warning: " in ln]


def wait_warning(b, text, what, timeout=15.0):
    wait_for(lambda: warnings(b, text), timeout, what)
    log("%s: %s" % (what, warnings(b, text)[0]))


def test():
    ca = tlsutil.CA()
    other = tlsutil.CA("other", "another CA")
    certs = {"n1": ca.issue("n1", "n1", node=True),
             "n2": ca.issue("n2", "n2", node=True),
             "n3": other.issue("n3", "n3", node=True),
             "n4": ca.issue("n4", "n4", node=True, expired=True)}
    node_conf = {}
    for name, (crt, key, _) in certs.items():
        node_conf[name] = tlsutil.cluster_conf(crt, key, ca.crt)
    node_conf["n3"] = tlsutil.cluster_conf(certs["n3"][0], certs["n3"][1],
                                           other.crt)
    with Cluster(4, node_conf=node_conf, start=False) as cl:
        for b in cl.nodes:
            b.start()
        cl.wait_links(nodes=[0, 1], among=[0, 1])
        p = cl.cports
        # n1 dials n3 and n4: their certificates are refused by n1
        wait_warning(cl[0], "cluster link to %s:%d failed: TLS handshake "
                     "failed: X509 - Certificate verification failed"
                     % (HOST, p[2]), "n1 refuses n3's certificate")
        check("not correctly signed by the trusted CA" in
              warnings(cl[0], "%s:%d failed" % (HOST, p[2]))[0],
              "n1 says why n3's certificate is refused")
        wait_warning(cl[0], "cluster link to %s:%d failed: TLS handshake "
                     "failed: X509 - Certificate verification failed"
                     % (HOST, p[3]), "n1 refuses n4's certificate")
        check("validity has expired" in
              warnings(cl[0], "%s:%d failed" % (HOST, p[3]))[0],
              "n1 says n4's certificate has expired")
        # ... and n3, n4 hear it as an alert on their listeners
        wait_warning(cl[2], "failed: TLS handshake failed: SSL - A fatal "
                     "alert message was received from our peer (alert "
                     "unknown_ca: the peer does not accept our "
                     "certificate)", "n3 told that n1 does not know its CA")
        wait_warning(cl[3], "failed: TLS handshake failed: SSL - A fatal "
                     "alert message was received from our peer (alert "
                     "certificate_expired: the peer does not accept our "
                     "certificate)", "n4 told that its certificate expired")
        # n4 dials n1: n1's listener refuses n4's certificate
        wait_warning(cl[0], "validity has expired",
                     "n1's listener refuses n4's certificate")
        # n3 dials n1: n3 refuses n1's certificate (n1's CA is not n3's)
        wait_warning(cl[2], "cluster link to %s:%d failed: TLS handshake "
                     "failed: X509 - Certificate verification failed"
                     % (HOST, p[0]), "n3 refuses n1's certificate")
        wait_warning(cl[0], "(alert unknown_ca: the peer does not accept "
                     "our certificate)", "n1 told that n3 does not know "
                     "its CA")

        for i in range(4):
            for j in range(4):
                if i != j and not (i < 2 and j < 2):
                    check("cluster link from n%d " % (j + 1)
                          not in cl[i].log(), "n%d: a link from n%d came "
                          "up" % (i + 1, j + 1))
            if i >= 2:
                check_eq(cl.links_up(i), set(), "n%d's links up" % (i + 1))
        for i in (0, 1):
            check_eq(cl.links_up(i), {"n1", "n2"} - {"n%d" % (i + 1)},
                     "n%d's links up" % (i + 1))

        # no message crosses to or from n3 and n4
        subs = []
        for i in range(4):
            r = Receiver(cl[i].port, "tr-sub-%d" % (i + 1), version=raw.V5)
            r.connect(clean=True)
            r.subscribe([("tr/#", 1)])
            subs.append(r)
        for src in range(4):
            c = raw.Client(cl[src].port, version=raw.V5)
            c.connect("tr-pub-%d" % (src + 1))
            c.publish("tr/from/%d" % (src + 1), b"from-n%d" % (src + 1),
                      qos=1)
            c.disconnect()
        for i, want in ((0, [b"from-n1", b"from-n2"]),
                        (1, [b"from-n1", b"from-n2"]),
                        (2, [b"from-n3"]), (3, [b"from-n4"])):
            got = subs[i].receive_n(len(want), timeout=15.0)
            check_eq(sorted(d[1] for d in got), want,
                     "messages at the subscriber on n%d" % (i + 1))
        # a marker published on n2 comes next at n1 and n2: nothing from
        # n3 or n4 was on its way
        c = raw.Client(cl[1].port, version=raw.V5)
        c.connect("tr-marker")
        c.publish("tr/marker", b"marker", qos=1)
        c.disconnect()
        for i in (0, 1):
            got = subs[i].receive_n(1, timeout=15.0)
            check_eq(got[0][1], b"marker", "next message at n%d" % (i + 1))
        for i in (2, 3):
            subs[i].expect_quiet(1.0)
        for r in subs:
            r.disconnect()

        # no client certificate
        ctx = tlsutil.client_context(ca.crt)
        ctx.check_hostname = False
        got = None
        try:
            c = raw.Client(p[0], version=raw.V5, ssl_context=ctx)
            c.send(raw.connect("$cluster/n9", version=raw.V5))
            got = c.wait_closed(5.0)
            c.close()
        except (ssl.SSLError, OSError) as e:
            log("no client certificate: %r" % e)
        check(not any(q.type == raw.CONNACK for q in got or []),
              "no CONNACK without a client certificate: %r" % (got,))
        wait_warning(cl[0], "No client certification received",
                     "n1 refuses a link without a client certificate")

        # a node certificate, a wrong cluster_secret
        crt, key, _ = ca.issue("n9", "n9", node=True)
        ctx = tlsutil.client_context(ca.crt, crt, key)
        ctx.check_hostname = False
        c = raw.Client(p[0], version=raw.V5, ssl_context=ctx)
        ack = c.connect("$cluster/n9", rc=None, password=b"wrong-secret",
                        properties={"user_property": [("tern-node", "n9"),
                                                      ("tern-proto", "1")]})
        check_eq(ack.reason, 0x86, "a good certificate, a wrong secret: "
                 "CONNACK reason")
        c.close()
        check("cluster link from n9" not in cl[0].log(),
              "n1: a link from n9 came up")
        cl.wait_links(nodes=[0, 1], among=[0, 1])


main(test)
