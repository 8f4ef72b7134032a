#!/usr/bin/env python3
"""The HTTP listener asks for a token: GET /metrics without
Authorization, with another scheme or with a wrong token is 401 with
WWW-Authenticate: Bearer; with a token of http_token_file it is 200, and
the body parses strictly as Prometheus text format 0.0.4 with the
families tern.conf(5) lists. Another path is 404, POST on /metrics 405
(with Allow). ternd.ready names the HTTP port ("http <address> <port>")."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import metricsutil as mu  # noqa: E402

FAMILIES = {
    "tern_connections": "gauge",
    "tern_sessions": "gauge",
    "tern_subscriptions": "gauge",
    "tern_retained_messages": "gauge",
    "tern_retained_bytes": "gauge",
    "tern_queued_messages": "gauge",
    "tern_queued_bytes": "gauge",
    "tern_messages_published_total": "counter",
    "tern_messages_delivered_total": "counter",
    "tern_messages_dropped_total": "counter",
    "tern_store_commit_seconds": "histogram",
    "tern_store_commit_failures_total": "counter",
    "tern_auth_checks_waiting": "gauge",
    "process_cpu_seconds_total": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_open_fds": "gauge",
}


def test():
    tern_only("the HTTP listener")
    with Broker(conf=mu.conf()) as b:
        check(b.http_port is not None and b.http_port > 0,
              "ternd.ready has an http line (%r)" % b.http_port)
        with open(b.ready_path()) as f:
            ready = f.read()
        check(("http 127.0.0.1 %d\n" % b.http_port) in ready,
              "ready file line 'http 127.0.0.1 <port>' (%r)" % ready)
        for what, token, headers in (
                ("no Authorization", None, None),
                ("a wrong token", "not-the-token", None),
                ("a prefix of the token", mu.TOKEN[:-1], None),
                ("the token with another scheme", None,
                 {"Authorization": "Basic " + mu.TOKEN})):
            status, h, body = mu.request(b.http_port, token=token,
                                         headers=headers)
            log("%s: %d %r" % (what, status, h.get("www-authenticate")))
            check_eq(status, 401, "status with %s" % what)
            check(h.get("www-authenticate", "").startswith("Bearer"),
                  "WWW-Authenticate: Bearer with %s" % what)
            check("tern_" not in body, "no metrics with %s" % what)
        m = mu.scrape(b.http_port)
        for name, t in FAMILIES.items():
            check_eq(m.families.get(name), t, "family %s" % name)
        for v in ("3.1", "3.1.1", "5"):
            check_eq(m.get("tern_connections", version=v,
                           listener="127.0.0.1:%d" % b.port,
                           protocol="mqtt"), 0.0,
                     "no connection of version %s yet" % v)
        status, _, _ = mu.request(b.http_port, path="/nothing")
        check_eq(status, 404, "another path")
        status, h, _ = mu.request(b.http_port, method="POST")
        check_eq(status, 405, "POST /metrics")
        check("GET" in h.get("allow", ""), "Allow names GET")
        status, _, _ = mu.request(b.http_port, path="/nothing", token=None)
        check_eq(status, 401, "another path without a token: 401 first")


main(test)
