#!/usr/bin/env python3
"""require_certificate true with cafile: a client without a certificate,
or with one from another CA, is refused in the handshake; a client with a
certificate from the CA is accepted (mosquitto_pub --cert/--key, Python
ssl)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
import ssl  # noqa: E402
import tlsutil  # noqa: E402


def refused(port, ctx, what):
    try:
        c = raw.Client(port, ssl_context=ctx)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
        log("%s: refused in the handshake: %r" % (what, e))
        return
    # TLS 1.2: the client may finish its side before the server checks
    # the certificate; the broker must then close without a CONNACK.
    try:
        c.send(raw.connect(what))
    except OSError:
        pass
    got = c.wait_closed(3.0)
    c.close()
    check(not any(p.type == raw.CONNACK for p in got),
          "%s: no CONNACK (%r)" % (what, got))


def test():
    tern_only("TLS listener keys")
    ca = tlsutil.CA()
    other = tlsutil.CA("other", "some other CA")
    crt, key, _ = ca.issue("server", HOST)
    ccrt, ckey, _ = ca.issue("client", "alice", server=False)
    ocrt, okey, _ = other.issue("stranger", "mallory", server=False)
    conf = tlsutil.listener_conf(crt, key, cafile=ca.crt, require=True)
    with Broker(conf=conf) as b:
        refused(b.port, tlsutil.client_context(ca.crt), "no certificate")
        refused(b.port, tlsutil.client_context(ca.crt, ocrt, okey),
                "certificate of another CA")
        r = run([MOSQUITTO_PUB, "-h", HOST, "-p", str(b.port), "-t", "x",
                 "-m", "x"] + tlsutil.tls_args(ca.crt), timeout=10)
        check(r.rc != 0, "mosquitto_pub without a certificate fails")
        b.wait_log("TLS handshake failed")

        c = raw.Client(b.port,
                       ssl_context=tlsutil.client_context(ca.crt, ccrt,
                                                          ckey))
        c.connect("with-cert")
        c.ping()
        c.disconnect()
        with Sub(b.port, "rc/t", qos=1, count=1,
                 extra=tlsutil.tls_args(ca.crt, ccrt, ckey)) as s:
            s.wait_ready()
            pub(b.port, "rc/t", "signed", qos=1,
                extra=tlsutil.tls_args(ca.crt, ccrt, ckey))
            check_eq(s.wait_count(1)[0][1], "signed",
                     "mosquitto clients with certificates")
            s.finish()


main(test)
