#!/usr/bin/env python3
"""ternctl's admin commands against a real ternd (http_listener and a
token file) and real MQTT clients: status; clients lists a connected
client with its id, user and address (--all follows the pages, --json
prints the server's JSON); client ID shows its subscription; kick ID
sends the v5 client DISCONNECT 0x98 and its session stays; sessions
lists it offline; session-delete (and "sessions delete") removes it and
a second delete is exit 1 "no such session"; retained lists a retained
message and retained-delete clears it; a client id holding control
characters is printed escaped; drain sends clients 0x9C; cluster on a
2-node cluster shows the peer up. Where and the token: -H with
--token-file, -c with the node's own tern.conf (its http_listener and the
first token of its http_token_file), TERN_URL and TERN_TOKEN. Failures:
a wrong token is exit 1 "bad or missing token" (the token never
printed), the node down is exit 1 "connection refused", a node that does
not answer is exit 1 after --timeout, an unknown command or a flag the
command does not take is exit 2."""
import json
import os
import socket
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import apiutil as api  # noqa: E402
from authutil import ternctl_path  # noqa: E402
from cluster import Cluster  # noqa: E402
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402
from v5util import *  # noqa: E402,F401,F403


def ctl(*args, env=None, timeout=20):
    """ternctl with args; its Result. The token must never show."""
    e = dict(os.environ)
    e.pop("TERN_URL", None)
    e.pop("TERN_TOKEN", None)
    e.update(env or {})
    r = run([ternctl_path()] + list(args), timeout=timeout, env=e)
    check(api.TOKEN not in r.out and api.TOKEN not in r.err,
          "the token is not printed: %r" % r)
    return r


def ok(*args, **kw):
    r = ctl(*args, **kw)
    check_eq(r.rc, 0, "ternctl %s: exit 0 (%r)" % (" ".join(args), r))
    return r.out


def table(out):
    """Rows of a table (header first), cells split on 2+ spaces."""
    import re
    return [re.split(r"  +", line.strip()) for line in out.splitlines()
            if line.strip()]


def column(out, name):
    rows = table(out)
    check(rows and name in rows[0], "a %s column: %r" % (name, out))
    i = rows[0].index(name)
    return [r[i] if i < len(r) else None for r in rows[1:]]


def single_node():
    tokens = api.mu.token_file()
    hport = free_port()
    conf = ["http_listener %d 127.0.0.1" % hport,
            "http_token_file %s" % tokens,
            "server_reference other:1883"]
    with Broker(conf=conf) as b:
        check_eq(b.http_port, hport, "the fixed HTTP port")
        url = "http://127.0.0.1:%d" % hport
        flags = ["-H", url, "--token-file", tokens]

        # -c: the node's own config file
        out = ok("-c", b.conf_path, "status")
        check("state           running" in out, "status: running (%r)"
              % out)
        check("127.0.0.1:%d mqtt" % b.port in out, "status: the listener")
        # the environment
        out = ok("status", env={"TERN_URL": url, "TERN_TOKEN": api.TOKEN})
        check("connections" in out, "status from TERN_URL/TERN_TOKEN")
        # flags come before the environment
        r = ctl(*flags, "status", env={"TERN_URL": "http://127.0.0.1:1",
                                       "TERN_TOKEN": "wrong"})
        check_eq(r.rc, 0, "-H and --token-file before TERN_* (%r)" % r)

        # a wrong token; no token
        for args in (["-H", url, "-t", "wrong-token", "clients"],
                     ["-H", url, "clients"]):
            r = ctl(*args)
            check_eq(r.rc, 1, "refused token: exit 1 (%r)" % r)
            check("bad or missing token" in r.err, "says why: %r" % r.err)
            check_eq(r.out, "", "nothing on stdout")

        # clients: a v5 client with a user, and a 3.1.1 one
        c = raw.Client(b.port, version=V5)
        c.connect("ctl-a", clean=False, username="alice",
                  properties={"session_expiry_interval": 300})
        c.subscribe("ctl/t/#", qos=1)
        old = raw.Client(b.port, version=V311)
        old.connect("ctl-b", username="bob")
        out = ok(*flags, "clients")
        rows = table(out)
        check_eq(rows[0][:5], ["CLIENT ID", "USER", "PROTO", "ADDRESS",
                               "CONNECTED"], "the clients header")
        byid = {r[0]: r for r in rows[1:]}
        check_eq(sorted(byid), ["ctl-a", "ctl-b"], "both clients listed")
        check_eq(byid["ctl-a"][1:3], ["alice", "5"], "ctl-a: user, proto")
        check_eq(byid["ctl-b"][1:3], ["bob", "3.1.1"], "ctl-b: user, proto")
        check(byid["ctl-a"][3].startswith("127.0.0.1:"), "ctl-a's address")
        out = ok(*flags, "clients", "--user", "bob")
        check_eq(column(out, "CLIENT ID"), ["ctl-b"], "--user filter")
        out = ok(*flags, "clients", "--client-id", "-a")
        check_eq(column(out, "CLIENT ID"), ["ctl-a"], "--client-id filter")
        out = ok(*flags, "clients", "--limit", "1")
        check_eq(len(column(out, "CLIENT ID")), 1, "--limit 1: one row")
        out = ok(*flags, "clients", "--limit", "1", "--all")
        check_eq(sorted(column(out, "CLIENT ID")), ["ctl-a", "ctl-b"],
                 "--all follows the pages")
        doc = json.loads(ok(*flags, "--json", "clients"))
        check_eq((doc["total"], sorted(x["client_id"] for x in
                                       doc["items"])),
                 (2, ["ctl-a", "ctl-b"]), "--json: the server's JSON")
        pages = [json.loads(line) for line in
                 ok(*flags, "--json", "--all", "--limit", "1",
                    "clients").splitlines()]
        check_eq([len(p["items"]) for p in pages], [1, 1],
                 "--json --all: one JSON object per page")

        # client ID: its subscription
        out = ok(*flags, "client", "ctl-a")
        check("user            alice" in out, "client: user (%r)" % out)
        check_eq(column(out[out.index("FILTER"):], "FILTER"), ["ctl/t/#"],
                 "client: its subscription")
        out = ok(*flags, "subscriptions", "--client-id", "ctl-a")
        check_eq(column(out, "FILTER"), ["ctl/t/#"], "subscriptions")
        r = ctl(*flags, "client", "nobody")
        check_eq(r.rc, 1, "an unknown client: exit 1")
        check("no such session" in r.err, "says why: %r" % r.err)

        # a client id with control characters comes out escaped
        esc = raw.Client(b.port, version=V5)
        esc.connect("ctl-\x1b[2J\x07")
        out = ok(*flags, "clients", "--client-id", "ctl-\x1b")
        check("\x1b" not in out and "\x07" not in out,
              "no control character printed: %r" % out)
        check_eq(column(out, "CLIENT ID"), ["ctl-\\x1b[2J\\x07"],
                 "the id escaped")
        esc.disconnect()

        # kick: DISCONNECT 0x98, the session stays
        r = ctl(*flags, "kick", "nobody")
        check_eq(r.rc, 1, "kick nobody: exit 1")
        check("no such client" in r.err, "kick nobody says why: %r" % r.err)
        out = ok(*flags, "kick", "ctl-a")
        check("kicked 'ctl-a'" in out and "session stays" in out,
              "kick's answer: %r" % out)
        got = c.wait_closed(5.0)
        check_eq([(x.type, x.reason) for x in got],
                 [(raw.DISCONNECT, 0x98)], "DISCONNECT 0x98, then closed")
        c.close()
        wait_for(lambda: "ctl-a" not in ok(*flags, "clients"), 5.0,
                 "ctl-a gone from clients")
        out = ok(*flags, "sessions", "--offline")
        rows = {r[0]: r for r in table(out)[1:]}
        check("ctl-a" in rows, "sessions --offline lists ctl-a: %r" % out)
        check_eq(rows["ctl-a"][1:5], ["alice", "no", "yes", "300 s"],
                 "ctl-a offline, persistent, its expiry")

        # session-delete, and "sessions delete"
        out = ok(*flags, "session-delete", "ctl-a")
        check("deleted session 'ctl-a'" in out, "delete's answer: %r" % out)
        check("ctl-a" not in ok(*flags, "sessions"), "ctl-a deleted")
        r = ctl(*flags, "sessions", "delete", "ctl-a")
        check_eq(r.rc, 1, "deleting it again: exit 1")
        check("no such session" in r.err, "says why: %r" % r.err)
        old.disconnect()

        # retained
        p = raw.Client(b.port, version=V5)
        p.connect("ctl-pub")
        p.publish("ctl/r/one", b"12345", qos=1, retain=True)
        p.disconnect()
        out = ok(*flags, "retained", "--prefix", "ctl/")
        rows = table(out)
        check_eq([r[:3] for r in rows[1:]], [["ctl/r/one", "5", "1"]],
                 "retained: topic, size, qos (%r)" % out)
        out = ok(*flags, "retained-delete", "ctl/r/one")
        check("ctl/r/one" in out, "retained-delete's answer: %r" % out)
        check_eq(column(ok(*flags, "retained", "--prefix", "ctl/"),
                        "TOPIC"), [], "the retained message cleared")
        r = ctl(*flags, "retained", "delete", "ctl/r/one")
        check_eq(r.rc, 1, "clearing it again: exit 1 (%r)" % r)

        # usage errors
        for args in (["bogus"], ["kick"], ["status", "x"],
                     ["clients", "--prefix", "x"], ["status", "--all"],
                     ["--limit", "-1", "clients"]):
            r = ctl(*flags, *args)
            check_eq(r.rc, 2, "usage error %r: exit 2 (%r)" % (args, r))

        # drain: 0x9C
        d = raw.Client(b.port, version=V5)
        d.connect("ctl-d")
        out = ok(*flags, "drain")
        check("draining: 1 connections closed" in out, "drain: %r" % out)
        m = expect_server_disconnect(d, RC_USE_ANOTHER_SERVER, "drained")
        check_eq(m.props.get("server_reference"), "other:1883",
                 "Server Reference")
        r = ctl(*flags, "drain")
        check_eq(r.rc, 1, "a second drain: exit 1")
        check("draining already" in r.err, "says why: %r" % r.err)
        out = ok(*flags, "status")
        check("state           draining" in out, "status: draining")
    # the node down
    r = ctl("-H", url, "--token-file", tokens, "status")
    check_eq(r.rc, 1, "node down: exit 1")
    check("connection refused" in r.err, "says connection refused: %r"
          % r.err)

    # -c with port 0 (chosen at start-up) cannot say where
    conf0 = tmp_path("port0.conf")
    with open(conf0, "w") as f:
        f.write("http_listener 0\nhttp_token_file %s\n" % tokens)
    r = ctl("-c", conf0, "status")
    check_eq(r.rc, 1, "-c with port 0: exit 1")
    check("port 0" in r.err, "says why: %r" % r.err)


def no_answer():
    """A listener that accepts and never answers: --timeout bounds it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    try:
        # It gives up by its own --timeout, saying so, before ctl's own
        # bound (20 s) would stop it: no time is asserted here.
        r = ctl("-H", "http://127.0.0.1:%d" % s.getsockname()[1],
                "--timeout", "1", "status")
        check_eq(r.rc, 1, "no answer: exit 1")
        check("1 s" in r.err, "says it gave up after 1 s: %r" % r.err)
    finally:
        s.close()


def cluster():
    with Cluster(2, conf=api.conf()) as c:
        flags = ["-H", "http://127.0.0.1:%d" % c[0].http_port,
                 "--token-file", api.mu.token_file("ctokens")]

        def peer_up():
            rows = table(ok(*flags, "cluster").split("\n", 2)[2])
            return rows[1][:2] == ["n2", "yes"] if len(rows) == 2 else False
        wait_for(peer_up, 15.0, "cluster: n2 up")
        out = ok(*flags, "cluster")
        check(out.startswith("node n1\n"), "names the node: %r" % out)
        doc = json.loads(ok(*flags, "--json", "cluster"))
        check_eq([(p["name"], p["up"]) for p in doc["peers"]],
                 [("n2", True)], "--json cluster")


def test():
    tern_only("ternctl and the admin API")
    single_node()
    no_answer()
    cluster()


main(test)
