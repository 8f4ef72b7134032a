#!/usr/bin/env python3
"""A client that trusts another CA refuses the broker's certificate
(mosquitto_pub fails, Python's ssl raises a verification error); the
broker logs the failed handshake at info and keeps serving."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
import ssl  # noqa: E402
import tlsutil  # noqa: E402


def test():
    tern_only("TLS listener keys")
    ca = tlsutil.CA()
    other = tlsutil.CA("other", "some other CA")
    crt, key, _ = ca.issue("server", HOST)
    with Broker(conf=tlsutil.listener_conf(crt, key)) as b:
        r = run([MOSQUITTO_PUB, "-h", HOST, "-p", str(b.port), "-t", "x",
                 "-m", "x", "--cafile", other.crt], timeout=10)
        check(r.rc != 0, "mosquitto_pub with the wrong CA fails: %r" % r)
        try:
            c = raw.Client(b.port,
                           ssl_context=tlsutil.client_context(other.crt))
            c.close()
            raise TestFailure("Python ssl accepted a certificate of "
                              "another CA")
        except ssl.SSLCertVerificationError as e:
            log("refused as expected: %s" % e)
        b.wait_log("TLS handshake failed")
        # The right CA still works.
        c = raw.Client(b.port, ssl_context=tlsutil.client_context(ca.crt))
        c.connect("right-ca")
        c.ping()
        c.disconnect()


main(test)
