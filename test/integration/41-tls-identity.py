#!/usr/bin/env python3
"""use_identity_as_username: on a listener that requires client
certificates, the certificate's CN is the user name. The CONNECT's user
name and password are ignored (alice is not even in the password file),
the ACL rules of the CN apply (not those of the user name the client
claims), a certificate without a CN is refused with 0x87, and the plain
listener next to it still requires a password."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
import tlsutil  # noqa: E402
from authutil import *  # noqa: E402,F401,F403

ACL = """user alice
topic readwrite alice/#
user carol
topic readwrite carol/#
"""


def test():
    tern_only("use_identity_as_username")
    ca = tlsutil.CA()
    crt, key, _ = ca.issue("server", HOST)
    acrt, akey, _ = ca.issue("alice", "alice", server=False)
    ncrt, nkey, _ = ca.issue("nocn", None, server=False,
                             subject="/O=tern test/OU=no common name")
    pw = password_file({"carol": "c"})
    conf = tlsutil.listener_conf(crt, key, cafile=ca.crt, require=True,
                                 extra=["use_identity_as_username true"])
    conf += ["listener 0 %s" % HOST, "password_file %s" % pw,
             "acl_file %s" % acl_file(ACL)]
    with Broker(conf=conf) as b:
        tls_port, plain_port = b.listeners[0][1], b.listeners[1][1]
        actx = tlsutil.client_context(ca.crt, acrt, akey)

        a = raw.Client(tls_port, version=raw.V5, ssl_context=actx)
        a.connect("alice-phone", username="carol", password=b"wrong")
        # 0x10: accepted, no matching subscribers
        check_eq(a.publish("alice/x", b"mine", qos=1, mid=1).reason, 0x10,
                 "alice (from the certificate) may write alice/#")
        check_eq(a.publish("carol/x", b"not mine", qos=1, mid=2).reason,
                 RC_NOT_AUTHORIZED, "the claimed user name carol is "
                 "ignored: carol/# is refused")
        a.disconnect()

        a3 = raw.Client(tls_port, version=raw.V311, ssl_context=actx)
        a3.connect("alice-3")  # no user name, no password at all
        a3.ping()
        a3.disconnect()

        n = raw.Client(tls_port, version=raw.V5,
                       ssl_context=tlsutil.client_context(ca.crt, ncrt,
                                                          nkey))
        n.connect("no-cn", username="alice", password=b"x",
                  rc=RC_NOT_AUTHORIZED)
        n.close()
        b.wait_log("no CN usable as a user name")

        p = raw.Client(plain_port, version=raw.V5)
        p.connect("plain-anon", rc=RC_NOT_AUTHORIZED)
        p.close()
        p = raw.Client(plain_port, version=raw.V5)
        p.connect("plain-carol", username="carol", password=b"c")
        check_eq(p.publish("carol/x", b"ok", qos=1, mid=3).reason, 0x10,
                 "carol with her password on the plain listener")
        p.disconnect()


main(test)
