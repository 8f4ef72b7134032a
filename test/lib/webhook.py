"""An HTTP server that records the requests of tern's push webhook
(push_webhook), for the 50-im-push* tests and bench/push.sh.

Webhook(port=None) listens on 127.0.0.1 (a free port unless given) in a
thread and answers POSTs as its mode says:
  "ok"       200 at once
  "slow"     200 after .delay seconds (2 by default)
  "failing"  500 to the next .fail_left requests, then 200
  "status"   .status (e.g. 400) to every request
stop() closes the socket (the server is "down": connections are
refused); start() listens again on the same port. Every request is kept
in .requests as a Request (time, path, headers, body, events, status),
those answered 2xx only in .delivered(). Stop it with close() (or a
with-block), even when the test fails.
"""

import hashlib
import hmac
import http.server
import json
import socket
import threading
import time

from harness import HOST, TestFailure, check, free_port, wait_for


class Request:
    def __init__(self, path, headers, body, status):
        self.t = time.monotonic()
        self.path = path
        self.headers = headers
        self.body = body
        self.status = status
        self.events = json.loads(body.decode()) if body else None

    def signed_by(self, secret):
        """1 when X-Tern-Signature is sha256=<HMAC-SHA256 of the body>."""
        want = "sha256=" + hmac.new(secret.encode(), self.body,
                                    hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers.get("X-Tern-Signature",
                                                    ""), want)

    def __repr__(self):
        return "<POST %s %d: %d events>" % (self.path, self.status,
                                            len(self.events or []))


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Webhook:
    def __init__(self, port=None, mode="ok", delay=2.0, start=True):
        self.port = port or free_port()
        self.mode = mode
        self.delay = delay
        self.fail_left = 0
        self.status = 400
        self.lock = threading.Lock()
        self.requests = []      # answered, in the order of the answers
        self.started = 0        # requests read (answered or not yet)
        self.server = None
        self.thread = None
        if start:
            self.start()

    @property
    def url(self):
        return "http://%s:%d/push/hook?x=1" % (HOST, self.port)

    def _handler(self):
        hook = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with hook.lock:
                    hook.started += 1
                    mode = hook.mode
                    if mode == "failing" and hook.fail_left > 0:
                        hook.fail_left -= 1
                        status = 500
                    elif mode == "status":
                        status = hook.status
                    else:
                        status = 200
                if mode == "slow":
                    time.sleep(hook.delay)
                with hook.lock:
                    hook.requests.append(Request(self.path,
                                                 dict(self.headers.items()),
                                                 body, status))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        return H

    def start(self):
        deadline = time.monotonic() + 10
        while True:
            try:
                self.server = _Server((HOST, self.port), self._handler())
                break
            except OSError:
                # the port of a server just stopped: a moment
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)
        self.server = None

    close = stop

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()
        return False

    # -- what it got
    def delivered(self):
        with self.lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def events(self):
        """The events of the requests answered 2xx, in order."""
        return [e for r in self.delivered() for e in r.events]

    def wait_events(self, n, timeout=10.0, what="webhook events"):
        try:
            wait_for(lambda: len(self.events()) >= n, timeout=timeout,
                     what="%s: %d events" % (what, n))
        except TestFailure as e:
            raise TestFailure("%s (got %d: %r)" % (e, len(self.events()),
                                                   self.requests))
        return self.events()

    def quiet(self, t=1.0, what="webhook"):
        """Nothing more arrives within t seconds."""
        before = len(self.requests)
        time.sleep(t)
        check(len(self.requests) == before, "%s: no request, got %r" %
              (what, self.requests[before:]))


def refused(port):
    """1 when nothing listens on 127.0.0.1:port."""
    s = socket.socket()
    try:
        s.settimeout(0.5)
        s.connect((HOST, port))
        return False
    except OSError:
        return True
    finally:
        s.close()
