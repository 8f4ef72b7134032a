"""The HTTP listener's /metrics for the 60-ops-metrics tests: a request
with or without a token, and a strict parser of the Prometheus text
exposition format 0.0.4 (every sample in a family announced by # TYPE,
names and labels as the format spells them, float values, counters named
_total, a histogram's buckets cumulative and ending in +Inf)."""

import http.client
import os
import re

from harness import TestFailure, check, tmp_path

TOKEN = "metrics-token-0123456789abcdef"

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^\n]*\})? (\S+)\Z")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def token_file(name="tokens", tokens=(TOKEN,)):
    """Write a token file (with a comment and a blank line); its path."""
    path = tmp_path(name)
    with open(path, "w") as f:
        f.write("# tokens of the tests\n\n")
        for t in tokens:
            f.write("  %s  \n" % t)
    os.chmod(path, 0o600)
    return path


def conf(path=None, port=0):
    """Config lines for an HTTP listener with the token file path."""
    return ["http_listener %d 127.0.0.1" % port,
            "http_token_file %s" % (path or token_file())]


def request(port, path="/metrics", token=TOKEN, method="GET",
            headers=None, timeout=5.0):
    """(status, headers dict with lower-case names, body text)."""
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = "Bearer %s" % token
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, headers=h)
        r = c.getresponse()
        body = r.read().decode("utf-8")
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        c.close()


def _labels(text, where):
    """'{a="b",c="d"}' -> dict, strictly."""
    inner = text[1:-1]
    out = {}
    pos = 0
    while pos < len(inner):
        m = LABEL.match(inner, pos)
        if m is None:
            raise TestFailure("bad labels %r (%s)" % (text, where))
        if m.group(1) in out:
            raise TestFailure("label %s twice (%s)" % (m.group(1), where))
        out[m.group(1)] = m.group(2).replace('\\"', '"').replace(
            "\\n", "\n").replace("\\\\", "\\")
        pos = m.end()
        if pos < len(inner):
            if inner[pos] != ",":
                raise TestFailure("bad labels %r (%s)" % (text, where))
            pos += 1
    return out


def _family_of(name, families):
    if name in families:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and families.get(base) in ("histogram",
                                                            "summary"):
            return base
    return None


def parse(text):
    """Parse exposition text strictly. Returns (families: name -> type,
    samples: list of (name, labels dict, float))."""
    families, helps, samples = {}, set(), []
    if not text.endswith("\n"):
        raise TestFailure("exposition does not end with a newline")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d: %r" % (n, line)
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] == "HELP":
                check(NAME.match(parts[2]) is not None, "name " + where)
                check(parts[2] not in helps, "HELP once " + where)
                helps.add(parts[2])
            elif len(parts) == 4 and parts[1] == "TYPE":
                check(NAME.match(parts[2]) is not None, "name " + where)
                check(parts[3] in TYPES, "type " + where)
                check(parts[2] not in families, "TYPE once " + where)
                check(not any(s[0] == parts[2] for s in samples),
                      "TYPE before its samples " + where)
                families[parts[2]] = parts[3]
            continue
        check(line.strip() != "", "no blank line " + where)
        m = SAMPLE.match(line)
        if m is None:
            raise TestFailure("bad sample " + where)
        name, labels, value = m.group(1), m.group(2), m.group(3)
        fam = _family_of(name, families)
        check(fam is not None, "sample of a family announced by # TYPE "
              + where)
        labels = _labels(labels, where) if labels else {}
        for k in labels:
            check(LABEL_NAME.match(k) is not None, "label name " + where)
        try:
            v = float(value)
        except ValueError:
            raise TestFailure("value is not a float " + where)
        if families[fam] == "counter":
            check(name.endswith("_total"), "counter named _total " + where)
            check(v >= 0, "counter not negative " + where)
        samples.append((name, labels, v))
    for f, t in families.items():
        check(f in helps, "# HELP for %s" % f)
        if t == "histogram":
            _check_histogram(f, samples)
    return families, samples


def _check_histogram(f, samples):
    buckets = [(s[1].get("le"), s[2]) for s in samples
               if s[0] == f + "_bucket"]
    check(buckets and buckets[-1][0] == "+Inf", "%s ends with +Inf" % f)
    les = [float(le) for le, _ in buckets]
    check(les == sorted(les), "%s buckets in order" % f)
    counts = [v for _, v in buckets]
    check(counts == sorted(counts), "%s buckets cumulative" % f)
    count = [s[2] for s in samples if s[0] == f + "_count"]
    check(count == [counts[-1]], "%s_count is the +Inf bucket" % f)
    check(any(s[0] == f + "_sum" for s in samples), "%s_sum" % f)


def scrape(port, token=TOKEN):
    """GET /metrics with the token: checked 200 and text/plain 0.0.4,
    parsed. Returns Metrics."""
    status, headers, body = request(port, token=token)
    check(status == 200, "GET /metrics: 200 (got %d: %r)"
          % (status, body[:200]))
    ct = headers.get("content-type", "")
    check(ct.startswith("text/plain") and "version=0.0.4" in ct,
          "Content-Type text/plain; version=0.0.4 (got %r)" % ct)
    return Metrics(*parse(body), text=body)


class Metrics:
    def __init__(self, families, samples, text=""):
        self.families = families
        self.samples = samples
        self.text = text

    def get(self, name, **labels):
        """The value of the one sample of name whose labels include
        labels; fails when there is none or more than one."""
        found = [v for n, ls, v in self.samples if n == name and
                 all(ls.get(k) == str(x) for k, x in labels.items())]
        check(len(found) == 1, "one sample %s%r (found %d)"
              % (name, labels, len(found)))
        return found[0]

    def sum(self, name, **labels):
        return sum(v for n, ls, v in self.samples if n == name and
                   all(ls.get(k) == str(x) for k, x in labels.items()))
