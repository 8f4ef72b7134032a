#!/usr/bin/env python3
"""The admin API asks for the token on every route: each /api/v1/ path
and method, and an unknown /api/ path, is 401 without Authorization or
with a wrong token, with WWW-Authenticate: Bearer and a JSON error. With
the token: an unknown /api/ path is 404, a method a path does not take
405 with Allow (JSON both), a bad percent-encoding or an escaped NUL in
a path 400, an unknown or malformed query parameter 400. The dashboard's
files are served without a token, with Content-Security-Policy
default-src 'self'; /metrics still needs the token."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import apiutil as api  # noqa: E402
import metricsutil as mu  # noqa: E402

ROUTES = [
    ("GET", "status"), ("GET", "clients"), ("GET", "clients/x"),
    ("POST", "clients/x/kick"), ("GET", "sessions"),
    ("GET", "sessions/x"), ("DELETE", "sessions/x"),
    ("GET", "subscriptions"), ("GET", "retained"),
    ("DELETE", "retained/a/b"), ("GET", "cluster"), ("POST", "drain"),
    ("GET", "nothing"), ("POST", "nothing/at/all"),
]


def test():
    tern_only("the admin API")
    with Broker(conf=api.conf()) as b:
        p = b.http_port
        for method, path in ROUTES:
            for token in (None, "wrong-token"):
                status, h, doc = api.call(p, path, method=method,
                                          token=token)
                check_eq(status, 401, "%s %s with token %r"
                         % (method, path, token))
                check(h.get("www-authenticate", "").startswith("Bearer"),
                      "WWW-Authenticate on %s %s" % (method, path))
        check(b.alive(), "the node is up: no drain without a token")
        check_eq(api.get(p, "status")["draining"], False,
                 "not draining after the refused POST /drain")

        api.get(p, "nothing", want=404)
        api.get(p, "clients/x/y", want=404)
        api.post(p, "clients", want=405)
        status, h, _ = api.call(p, "sessions/x", method="PUT")
        check_eq(status, 405, "PUT on a session")
        allow = {m.strip() for m in h.get("allow", "").split(",")}
        check_eq(allow, {"GET", "DELETE"}, "Allow of sessions/<id>")
        status, h, _ = api.call(p, "clients/x/kick")
        check_eq((status, h.get("allow")), (405, "POST"), "GET on kick")
        for bad in ("clients/%zz", "clients/%2", "clients/a%00b",
                    "sessions/%00"):
            api.get(p, bad, want=400)
        for bad in ("clients?nothing=1", "clients?limit=ten",
                    "clients?offset=-1", "clients?limit", "sessions?online=x",
                    "retained?client_id=a", "clients?client_id=%zz",
                    "clients?user=a&user=b"):
            api.get(p, bad, want=400)

        for path, ctype, text in (("/", "text/html", "/ui/app.js"),
                                  ("/ui/app.js", "javascript", "/api/v1/"),
                                  ("/ui/app.css", "text/css", "table")):
            status, h, body = mu.request(p, path=path, token=None)
            check_eq(status, 200, "GET %s without a token" % path)
            check(ctype in h.get("content-type", ""),
                  "%s: Content-Type %r" % (path, h.get("content-type")))
            check("default-src 'self'" in
                  h.get("content-security-policy", ""),
                  "%s: CSP default-src 'self' (%r)"
                  % (path, h.get("content-security-policy")))
            check(text in body, "%s holds %r" % (path, text))
            check("http://" not in body and "https://" not in body,
                  "%s loads nothing from elsewhere" % path)
        status, _, _ = mu.request(p, path="/ui/nothing.js", token=None)
        check_eq(status, 404, "an unknown file of the dashboard")
        status, _, _ = mu.request(p, path="/", token=None, method="POST")
        check_eq(status, 405, "POST /")
        status, _, _ = mu.request(p, path="/metrics", token=None)
        check_eq(status, 401, "/metrics without a token")


main(test)
