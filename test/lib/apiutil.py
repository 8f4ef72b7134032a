"""The HTTP listener's JSON admin API (/api/v1/) for the 60-ops-api and
60-ops-dashboard tests: a request that checks what every answer must be
(Content-Type application/json, a body json.loads takes, an "error"
member on every failure), paths with percent-encoded client ids, and a
page walker. The token and the config lines are metricsutil's."""

import json
import urllib.parse

from harness import TestFailure, check, check_eq
import metricsutil as mu

TOKEN = mu.TOKEN
conf = mu.conf


def enc(s):
    """s as one path segment (every reserved byte escaped, UTF-8)."""
    return urllib.parse.quote(s, safe="")


def call(port, path, method="GET", token=TOKEN, headers=None):
    """(status, headers, decoded JSON body) of method on /api/v1/path,
    checked to be JSON."""
    status, h, body = mu.request(port, path="/api/v1/" + path, token=token,
                                 method=method, headers=headers)
    where = "%s /api/v1/%s -> %d" % (method, path, status)
    check(h.get("content-type", "").startswith("application/json"),
          "%s: Content-Type application/json (got %r)"
          % (where, h.get("content-type")))
    try:
        doc = json.loads(body)
    except ValueError as e:
        raise TestFailure("%s: not JSON (%s): %r" % (where, e, body[:300]))
    check(isinstance(doc, dict), "%s: a JSON object" % where)
    if status >= 400:
        check(isinstance(doc.get("error"), str) and doc["error"] != "",
              "%s: an error message (%r)" % (where, doc))
    return status, h, doc


def get(port, path, want=200):
    status, _, doc = call(port, path)
    check_eq(status, want, "GET /api/v1/%s (%r)" % (path, doc))
    return doc


def post(port, path, want=200, method="POST"):
    status, _, doc = call(port, path, method=method)
    check_eq(status, want, "%s /api/v1/%s (%r)" % (method, path, doc))
    return doc


def delete(port, path, want=200):
    return post(port, path, want, method="DELETE")


def page_ok(doc, offset, limit, total=None):
    """A page's shape: offset, limit, total, items no more than limit."""
    check_eq(doc.get("offset"), offset, "page offset")
    check_eq(doc.get("limit"), limit, "page limit")
    check(isinstance(doc.get("items"), list), "page items: %r" % doc)
    check(isinstance(doc.get("total"), int), "page total: %r" % doc)
    check(len(doc["items"]) <= limit, "no more items than limit")
    if total is not None:
        check_eq(doc["total"], total, "page total")
    return doc["items"]


def walk(port, path, limit):
    """Every item of a list, a page of limit at a time; checks that the
    pages add up to total with nothing twice. Returns the items."""
    sep = "&" if "?" in path else "?"
    items, offset, total = [], 0, None
    for _ in range(1000):
        doc = get(port, "%s%soffset=%d&limit=%d" % (path, sep, offset,
                                                    limit))
        page = page_ok(doc, offset, limit, total)
        total = doc["total"]
        items += page
        if not page:
            break
        offset += len(page)
    check_eq(len(items), total, "%s: the pages hold total items" % path)
    return items
