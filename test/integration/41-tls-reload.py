#!/usr/bin/env python3
"""SIGHUP reloads the certificate and key: a connection opened before
keeps working; new connections are served the new certificate (checked by
its serial number with openssl s_client). New files that are bad (a key
that does not match) are refused: the error is logged, the previous
certificate stays in use and the node keeps serving."""
import os
import shutil
import signal
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
import tlsutil  # noqa: E402


def install(src_crt, src_key, crt, key):
    # Write then rename, as a certificate renewal tool would.
    shutil.copy(src_crt, crt + ".new")
    shutil.copy(src_key, key + ".new")
    os.rename(crt + ".new", crt)
    os.rename(key + ".new", key)


def test():
    tern_only("TLS certificate reload")
    ca = tlsutil.CA()
    crt1, key1, serial1 = ca.issue("server1", HOST)
    crt2, key2, serial2 = ca.issue("server2", HOST)
    crt3, key3, serial3 = ca.issue("server3", HOST)
    crt, key = tmp_path("live.crt"), tmp_path("live.key")
    install(crt1, key1, crt, key)
    ctx = tlsutil.client_context(ca.crt)
    with Broker(conf=tlsutil.listener_conf(crt, key)) as b:
        check_eq(tlsutil.served_serial(b.port, ca.crt), serial1,
                 "serial before reload")
        old = raw.Client(b.port, ssl_context=ctx)
        old.connect("before-reload")
        old.subscribe("reload/t", qos=1)

        install(crt2, key2, crt, key)
        b.signal(signal.SIGHUP)
        b.wait_log("certificate reloaded")
        check_eq(tlsutil.served_serial(b.port, ca.crt), serial2,
                 "new connections get the new certificate")
        p = raw.Client(b.port, ssl_context=ctx)
        p.connect("after-reload")
        p.publish("reload/t", b"one", qos=1)
        p.disconnect()
        check_eq(old.recv_publish(timeout=3.0).payload, b"one",
                 "connection from before the reload still works")

        # A key that does not match its certificate: refused, old kept.
        shutil.copy(crt3, crt + ".new")
        os.rename(crt + ".new", crt)
        b.signal(signal.SIGHUP)
        b.wait_log("reload failed, keeping the previous certificate")
        line = [ln for ln in b.log().splitlines()
                if "reload failed" in ln][0]
        check("does not match" in line and " error: " in line,
              "reload error logged: %r" % line)
        check_eq(tlsutil.served_serial(b.port, ca.crt), serial2,
                 "the previous certificate stays after a bad reload")
        p = raw.Client(b.port, ssl_context=ctx)
        p.connect("after-bad-reload")
        p.publish("reload/t", b"two", qos=1)
        p.disconnect()
        check_eq(old.recv_publish(timeout=3.0).payload, b"two",
                 "still serving after a bad reload")
        old.ping()
        old.disconnect()


main(test)
