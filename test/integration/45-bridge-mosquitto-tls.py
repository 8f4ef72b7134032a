#!/usr/bin/env python3
"""TLS to the remote: a mosquitto TLS listener that requires a client
certificate. A bridge dialling its IP address with bridge_cafile,
bridge_certfile and bridge_keyfile connects (the certificate names
127.0.0.1 as an IP SAN) and carries QoS 1 both ways; the same with a CA
that did not sign the server's certificate does not connect, nor does a
bridge that dials it as "localhost", a name the certificate does not
have, unless bridge_insecure is true; nor one that dials by IP address
a listener whose certificate names only DNS:localhost. TLS keys without bridge_cafile are
refused at start."""
import os
import socket
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
from mosqutil import Remote, bridge_conf, wait_bridge_up  # noqa: E402
import tlsutil  # noqa: E402

N = 50


def tls_lines(ca, crt, key, extra=()):
    return ["bridge_cafile %s" % ca, "bridge_certfile %s" % crt,
            "bridge_keyfile %s" % key] + list(extra)


def test():
    tern_only("bridges to other brokers")
    ca = tlsutil.CA("ca")
    other = tlsutil.CA("other", cn="another CA")
    scrt, skey, _ = ca.issue("server", "mosquitto")
    ccrt, ckey, _ = ca.issue("bridge", "tern-bridge", server=False)
    dcrt, dkey, _ = ca.issue("dnsonly", "mosquitto", san="DNS:localhost")
    tport, dport = free_port(), free_port()
    mosq = ["listener %d %s" % (tport, HOST), "cafile %s" % ca.crt,
            "certfile %s" % scrt, "keyfile %s" % skey,
            "require_certificate true",
            "listener %d %s" % (dport, HOST), "cafile %s" % ca.crt,
            "certfile %s" % dcrt, "keyfile %s" % dkey,
            "require_certificate true"]
    localhost_v4 = socket.getaddrinfo("localhost", tport, 0,
                                      socket.SOCK_STREAM)[0][4][0] == HOST
    with Remote(extra=mosq) as r:
        def conn(name, topics, tls, host=HOST, port=tport):
            lines = bridge_conf(r, name, topics, extra=tls)
            lines[1] = "address %s:%d" % (host, port)
            return lines
        conf = conn("good", ["up/# out 1", "down/# in 1"],
                    tls_lines(ca.crt, ccrt, ckey))
        conf += conn("wrongca", ["x/# out 1"],
                     tls_lines(other.crt, ccrt, ckey))
        conf += conn("wrongip", ["w/# out 1"],
                     tls_lines(ca.crt, ccrt, ckey), port=dport)
        if localhost_v4:
            conf += conn("byname", ["y/# out 1"],
                         tls_lines(ca.crt, ccrt, ckey), host="localhost")
            conf += conn("insecure", ["z/# out 1"],
                         tls_lines(ca.crt, ccrt, ckey,
                                   ["bridge_insecure true"]),
                         host="localhost")
        with Broker(conf=conf) as b:
            wait_bridge_up(b, "good")
            if localhost_v4:
                wait_bridge_up(b, "insecure")
            r.wait_log("Received SUBSCRIBE from tern-good")
            want = ["t%02d" % i for i in range(N)]
            with Sub(r.port, "up/#", qos=1, wait_secs=20) as s:
                s.wait_ready()
                pub(b.port, "up/a", want, qos=1)
                s.wait_count(N, timeout=20)
                check_eq(s.payloads, want, "out over TLS")
            with Sub(b.port, "down/#", qos=1, wait_secs=20) as s:
                s.wait_ready()
                pub(r.port, "down/a", want, qos=1)
                s.wait_count(N, timeout=20)
                check_eq(s.payloads, want, "in over TLS")
            wait_for(lambda: "bridge wrongca: cannot connect" in b.log(),
                     10, "the bridge with the wrong CA fails")
            check("verif" in b.log().split("bridge wrongca: cannot "
                                           "connect")[1].split("\n")[0],
                  "the failure says the certificate was not verified")
            if localhost_v4:
                wait_for(lambda: "bridge byname: cannot connect" in
                         b.log(), 10, "the bridge by a wrong name fails")
                line = b.log().split("bridge byname: cannot connect")[1]
                check("CN" in line.split("\n")[0],
                      "the failure says the name does not match")
            wait_for(lambda: "bridge wrongip: cannot connect" in b.log(),
                     10, "the bridge by an address not in the "
                     "certificate fails")
            line = b.log().split("bridge wrongip: cannot connect")[1]
            check("CN" in line.split("\n")[0],
                  "the failure says the address does not match")
            time.sleep(1)
            log_text = b.log()
            for name in ("wrongca", "byname", "wrongip"):
                check("bridge %s: connected" % name not in log_text,
                      "bridge %s connected" % name)
    # TLS keys without the CA to check the remote against
    d = tmp_path("noca")
    os.makedirs(d)
    path = os.path.join(d, "ternd.conf")
    with open(path, "w") as f:
        f.write("listener 0 127.0.0.1\nconnection r\naddress %s:%d\n"
                "topic a/#\nbridge_certfile %s\nbridge_keyfile %s\n"
                % (HOST, tport, ccrt, ckey))
    res = run_ternd(["-c", path, "-d", os.path.join(d, "data")])
    check_eq(res.rc, 1, "exit status without bridge_cafile")
    check("connection r: TLS needs bridge_cafile" in res.err,
          "the error names bridge_cafile (got %r)" % res.err)


main(test)
