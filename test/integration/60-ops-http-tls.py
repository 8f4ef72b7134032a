#!/usr/bin/env python3
"""https on the HTTP listener (http_certfile, http_keyfile): curl with the CA
gets /metrics (200, Prometheus text); a large answer (/api/v1/clients with
300 clients of long ids, about 6 MiB, Connection: close as well as
keep-alive) arrives whole, byte for byte what the same request gets over
plain http from a second node's listener, also to a client that starts
reading 2 s late (then a close_notify), and the dashboard's / too; 50
parallel https requests all succeed; plain http to the https port fails
cleanly and the node keeps serving; a TCP connection that sends nothing,
and a TLS one that sends no request, are closed after the 10 s idle
timeout (bounded wait); ternctl -c refuses an https listener with a
reason, and works through a TLS tunnel with -H; SIGHUP with a new
certificate: new connections see it, a bad one keeps the old; with
http_require_certificate a client needs a certificate from http_cafile
(and the token still); evhttp's private socket is in a 0700 directory
under data_dir, removed at exit, also for a data_dir too long for
sun_path; a node stopped with https connections open exits cleanly; bad
certificate files refuse start-up with the key, the file and the reason
(exit 1)."""
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import metricsutil as mu  # noqa: E402
import mqttraw as raw  # noqa: E402
import tlsutil  # noqa: E402
from authutil import ternctl_path  # noqa: E402

N_CLIENTS = 300
IDLE = 10  # http.c's HTTP_TIMEOUT


def https(port, ctx, path="/metrics", token=mu.TOKEN, headers=None,
          timeout=10.0):
    """(status, headers with lower-case names, body bytes) over TLS."""
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer %s" % token
    c = http.client.HTTPSConnection(HOST, port, context=ctx,
                                    timeout=timeout)
    try:
        c.request("GET", path, headers=h)
        r = c.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        c.close()


def plain(port, path, headers=None):
    h = {"Authorization": "Bearer %s" % mu.TOKEN}
    h.update(headers or {})
    c = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        c.request("GET", path, headers=h)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def curl(port, ca, path, *extra, token=mu.TOKEN):
    """(status, body) with curl --cacert."""
    p = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", ca,
                        "-H", "Authorization: Bearer %s" % token,
                        "-o", "-", "-w", "\n%{http_code}"] + list(extra) +
                       ["https://%s:%d%s" % (HOST, port, path)],
                       capture_output=True, timeout=20)
    check_eq(p.returncode, 0, "curl %s: %s" % (path, p.stderr.decode(
        errors="replace")))
    body, _, code = p.stdout.rpartition(b"\n")
    return int(code), body


def closed_within(sock, t0, limit):
    """Seconds until the peer closed sock (read gives EOF or a reset),
    failing after limit."""
    while True:
        left = t0 + limit - time.monotonic()
        if left <= 0:
            raise TestFailure("connection still open after %.1fs" % limit)
        sock.settimeout(left)
        try:
            if not sock.recv(4096):
                break
        except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLError):
            break
        except socket.timeout:
            raise TestFailure("connection still open after %.1fs" % limit)
    return time.monotonic() - t0


def private_dirs(data):
    return [os.path.join(data, d) for d in os.listdir(data)
            if d.startswith("http-")]


def check_private(data):
    dirs = private_dirs(data)
    check_eq(len(dirs), 1, "one private directory in %s (%r)" % (data, dirs))
    mode = stat.S_IMODE(os.stat(dirs[0]).st_mode)
    check_eq(oct(mode), oct(0o700), "the private directory's mode")
    check(stat.S_ISSOCK(os.stat(os.path.join(dirs[0], "s")).st_mode),
          "evhttp's socket in it")


def refused(lines, want, what, n=[0]):
    n[0] += 1
    conf = tmp_path("bad%d.conf" % n[0])
    data = tmp_path("bad-data%d" % n[0])
    with open(conf, "w") as f:
        f.write("\n".join(["listener 0 %s" % HOST] + lines) + "\n")
    r = run_ternd(["-c", conf, "-d", data])
    check_eq(r.rc, 1, "%s: exit status (stderr %r)" % (what, r.err))
    check(want in r.err, "%s: %r in %r" % (what, want, r.err))
    check(not os.path.exists(os.path.join(data, "ternd.ready")),
          "%s: never got ready" % what)
    for bad in ("runtime error", "Sanitizer"):
        check(bad not in r.err, "%s: sanitizer report: %r" % (what, r.err))
    log("%s: %s" % (what, r.err.strip().splitlines()[-1]))


class Tunnel:
    """What socat or stunnel would do for ternctl: plain TCP on a local
    port, TLS (checked against the CA) to the https port. One connection
    at a time, bounded by socket timeouts."""

    def __init__(self, port, ctx):
        self.port, self.ctx = port, ctx
        self.lsock = socket.socket()
        self.lsock.bind((HOST, 0))
        self.lsock.listen(4)
        self.lsock.settimeout(0.2)
        self.local = self.lsock.getsockname()[1]
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            t = self.ctx.wrap_socket(socket.create_connection(
                (HOST, self.port), timeout=10), server_hostname=HOST)
            c.settimeout(10)
            t.settimeout(10)
            try:
                req = b""
                while b"\r\n\r\n" not in req:
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    req += chunk
                t.sendall(req)
                while True:
                    chunk = t.recv(65536)
                    if not chunk:
                        break
                    c.sendall(chunk)
            except OSError:
                pass
            c.close()
            t.close()

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.lsock.close()


def install(src_crt, src_key, crt, key):
    shutil.copy(src_crt, crt + ".new")
    shutil.copy(src_key, key + ".new")
    os.rename(crt + ".new", crt)
    os.rename(key + ".new", key)


def test():
    tern_only("the HTTP listener's TLS")
    ca = tlsutil.CA()
    crt1, key1, serial1 = ca.issue("http1", HOST)
    crt2, key2, serial2 = ca.issue("http2", HOST)
    crt3, key3, _ = ca.issue("http3", HOST)
    crt, key = tmp_path("live.crt"), tmp_path("live.key")
    install(crt1, key1, crt, key)
    ctx = tlsutil.client_context(ca.crt)
    tokens = mu.token_file()
    tls = ["http_certfile %s" % crt, "http_keyfile %s" % key]

    # Refused configurations: the key, the file and the reason.
    garbage = tmp_path("garbage.crt")
    with open(garbage, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64\n"
                "-----END CERTIFICATE-----\n")
    missing = tmp_path("missing.crt")
    hconf = mu.conf(tokens)
    refused(hconf + ["http_certfile %s" % garbage, "http_keyfile %s" % key],
            "http_certfile %s: PEM - " % garbage, "garbage http_certfile")
    refused(hconf + ["http_certfile %s" % missing, "http_keyfile %s" % key],
            "http_certfile %s: No such file or directory" % missing,
            "missing http_certfile")
    refused(hconf + ["http_certfile %s" % crt, "http_keyfile %s" % key2],
            "http_keyfile %s does not match http_certfile %s" % (key2, crt),
            "key of another certificate")
    refused(hconf + ["http_certfile %s" % crt],
            "http_certfile given without http_keyfile", "no http_keyfile")
    refused(hconf + ["http_keyfile %s" % key],
            "need http_certfile", "http_keyfile alone")
    refused(tls, "http_certfile needs http_listener", "no http_listener")
    refused(hconf + tls + ["http_require_certificate true"],
            "http_require_certificate needs http_cafile",
            "http_require_certificate without a CA")

    with Broker(conf=mu.conf(tokens) + tls, name="tls") as b, \
            Broker(conf=mu.conf(tokens), name="plain") as ref:
        p = b.http_port
        with open(b.ready_path()) as f:
            check(("http 127.0.0.1 %d\n" % p) in f.read(),
                  "ternd.ready names the public https port")
        b.wait_log("port %d (HTTPS" % p)
        check_private(b.data_dir)

        status, body = curl(p, ca.crt, "/metrics")
        check_eq(status, 200, "curl /metrics")
        fams, _ = mu.parse(body.decode())
        check_eq(fams.get("tern_connections"), "gauge",
                 "Prometheus text over https")
        status, _ = curl(p, ca.crt, "/metrics", token="wrong")
        check_eq(status, 401, "a bad token is still refused over https")

        # ternctl speaks http only: -c says so; through a tunnel it works.
        conf = tmp_path("ctl.conf")
        with open(conf, "w") as f:
            f.write("http_listener %d\nhttp_token_file %s\n"
                    "http_certfile %s\n" % (p, tokens, crt))
        r = run([ternctl_path(), "-c", conf, "status"], timeout=20)
        check_eq(r.rc, 1, "ternctl -c with http_certfile: exit 1 (%r)" % r)
        check("speaks https" in r.err, "ternctl says why: %r" % r.err)
        tun = Tunnel(p, ctx)
        try:
            r = run([ternctl_path(), "-c", conf, "-H", "http://%s:%d"
                     % (HOST, tun.local), "status"], timeout=20)
        finally:
            tun.close()
        check_eq(r.rc, 0, "ternctl through a TLS tunnel (%r)" % r)
        check(mu.TOKEN not in r.out + r.err, "the token is not printed")

        # The dashboard.
        status, h, page = https(p, ctx, "/", token=None)
        check_eq(status, 200, "GET / over https")
        check(h.get("content-type", "").startswith("text/html"),
              "the page is HTML")
        check_eq(len(page), int(h["content-length"]), "the page whole")
        check_eq(plain(ref.http_port, "/")[1], page,
                 "the page as over plain http")

        # A large answer: 300 clients with long ids on both nodes.
        clients = []
        for node in (b, ref):
            for i in range(N_CLIENTS):
                c = raw.Client(node.port)
                c.connect("c%03d-" % i + "x" * 20000, keepalive=600)
                clients.append(c)
        path = "/api/v1/clients?limit=1000"
        _, want = plain(ref.http_port, path)
        want = json.loads(want)
        check_eq(len(want["items"]), N_CLIENTS, "clients over plain http")
        for hdr in ({}, {"Connection": "close"}):
            status, h, body = https(p, ctx, path, headers=hdr)
            check_eq(status, 200, "GET %s %r" % (path, hdr))
            check_eq(len(body), int(h["content-length"]),
                     "the whole answer (%r)" % hdr)
            check(len(body) > 1024 * 1024, "a large answer (%d bytes)"
                  % len(body))
            got = json.loads(body)
            check_eq([c["client_id"] for c in got["items"]],
                     [c["client_id"] for c in want["items"]],
                     "the same clients as over plain http (%r)" % hdr)
            log("%r: %d bytes" % (hdr, len(body)))
        # A client that reads late: the whole answer, then a close_notify
        # (Python's ssl raises SSLEOFError on an EOF without one).
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        s.settimeout(10)
        s.connect((HOST, p))
        raw_tls = ctx.wrap_socket(s, server_hostname=HOST)
        raw_tls.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: "
                         "Bearer %s\r\nConnection: close\r\n\r\n"
                         % (path, mu.TOKEN)).encode())
        time.sleep(2)
        raw_tls.settimeout(10)
        data = b""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            chunk = raw_tls.recv(65536)
            if not chunk:
                break
            data += chunk
        raw_tls.close()
        head, _, body = data.partition(b"\r\n\r\n")
        clen = [ln for ln in head.split(b"\r\n")
                if ln.lower().startswith(b"content-length:")]
        check(head.startswith(b"HTTP/1.1 200") and clen,
              "late reader: an answer (%r)" % head[:200])
        check_eq(len(body), int(clen[0].split(b":")[1]),
                 "late reader: the whole body, then close_notify")
        # Held back in ternd once the kernel's buffers are full: the
        # socket's send buffer grows up to tcp_wmem's maximum (4 MiB on
        # Debian), the client's receive buffer is 8 KiB.
        try:
            with open("/proc/sys/net/ipv4/tcp_wmem") as f:
                wmem = int(f.read().split()[2])
        except (OSError, ValueError, IndexError):
            wmem = None
        if wmem is not None and len(body) > wmem + 1024 * 1024:
            check("https answer waits for the client" in b.log(),
                  "the answer was held back while the client did not read")
        else:
            log("tcp_wmem max %r: the hold-back is not checked" % wmem)
        status, body = curl(p, ca.crt, path, "-H", "Connection: close")
        check_eq((status, len(json.loads(body)["items"])), (200, N_CLIENTS),
                 "curl with Connection: close")
        for c in clients:
            c.close()

        # 50 parallel requests.
        results = []

        def one(i):
            try:
                s, _, body = https(p, ctx, "/api/v1/status")
                results.append((s, json.loads(body)["version"] != ""))
            except Exception as e:  # noqa
                results.append(("%r" % e, False))
        threads = [threading.Thread(target=one, args=(i,))
                   for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        check_eq(results.count((200, True)), 50,
                 "50 parallel https requests (%r)" %
                 [r for r in results if r != (200, True)])

        # Plain http to the https port: no answer, the node stays fine.
        try:
            s, _, body = mu.request(p)
            raise TestFailure("plain http got %d %r" % (s, body[:100]))
        except (http.client.HTTPException, ConnectionError, OSError) as e:
            log("plain http to the https port: %r" % e)
        b.wait_log("does not speak TLS")
        check_eq(https(p, ctx)[0], 200, "https still served")

        # Idle: a silent TCP connection, and a TLS one with no request.
        t0 = time.monotonic()
        silent = socket.create_connection((HOST, p))
        idle = ctx.wrap_socket(socket.create_connection((HOST, p)),
                               server_hostname=HOST)
        for sock, what in ((silent, "TCP, nothing sent"),
                           (idle, "TLS, no request")):
            el = closed_within(sock, t0, IDLE + 5)
            log("%s: closed after %.2fs" % (what, el))
            check(el >= IDLE - 2, "%s: closed too early (%.2fs)"
                  % (what, el))
            sock.close()
        check_eq(https(p, ctx)[0], 200, "https served after the idle ones")

        # Reload.
        check_eq(tlsutil.served_serial(p, ca.crt), serial1, "serial")
        install(crt2, key2, crt, key)
        b.signal(signal.SIGHUP)
        b.wait_log("http_listener: certificate reloaded")
        check_eq(tlsutil.served_serial(p, ca.crt), serial2,
                 "the new certificate after SIGHUP")
        shutil.copy(crt3, crt + ".new")
        os.rename(crt + ".new", crt)
        b.signal(signal.SIGHUP)
        b.wait_log("http_listener: reload failed, keeping the previous")
        check_eq(tlsutil.served_serial(p, ca.crt), serial2,
                 "a bad pair keeps the previous certificate")
        check_eq(https(p, ctx)[0], 200, "served after a failed reload")
        install(crt2, key2, crt, key)

        b.stop()
        check_eq(private_dirs(b.data_dir), [], "private directory removed")

    # http_require_certificate: a client certificate from http_cafile.
    ccrt, ckey, _ = ca.issue("client", "operator", server=False)
    with Broker(conf=mu.conf(tokens) + tls + [
            "http_cafile %s" % ca.crt, "http_require_certificate true"],
            name="mutual") as m:
        try:
            s, _, _ = https(m.http_port, ctx)
            raise TestFailure("no client certificate: got %d" % s)
        except (ssl.SSLError, ConnectionError, http.client.HTTPException,
                OSError) as e:
            log("no client certificate: %r" % e)
        cctx = tlsutil.client_context(ca.crt, ccrt, ckey)
        check_eq(https(m.http_port, cctx)[0], 200,
                 "with a client certificate")
        check_eq(https(m.http_port, cctx, token="wrong")[0], 401,
                 "a client certificate does not replace the token")

    # A data_dir too long for sun_path (108 bytes).
    deep = Broker(conf=mu.conf(tokens) + tls, name="d" * 120)
    with deep:
        check(len(deep.data_dir) > 108, "a long data_dir (%d)"
              % len(deep.data_dir))
        check_private(deep.data_dir)
        check_eq(https(deep.http_port, ctx)[0], 200, "https with a long "
                 "data_dir")
        # Stopped with a TLS connection and a bare TCP one open: exit 0,
        # nothing leaked (the sanitizers' report is checked by stop()).
        kept = ctx.wrap_socket(socket.create_connection(
            (HOST, deep.http_port)), server_hostname=HOST)
        bare = socket.create_connection((HOST, deep.http_port))
        deep.stop()
        kept.close()
        bare.close()
        check_eq(private_dirs(deep.data_dir), [], "removed")


main(test)
