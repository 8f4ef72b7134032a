#!/usr/bin/env python3
"""GET /api/v1/status, /clients, /clients/<id>, /subscriptions with real
clients: the counts follow the node (connections, sessions online and
offline, subscriptions, retained); the client list pages (offset, limit,
total; limit capped at 1000), filters by client id and user (substring)
and gives each client's protocol, peer, listener, keep alive, queue and
subscriptions; one client's view has its session and subscriptions with
their options, a 404 for an unknown id; a client id with '/', '%', a
space, a quote, a backslash, control characters and UTF-8 is found
through its percent-encoded path and comes back intact; /subscriptions
pages and filters too. Every answer is JSON."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import apiutil as api  # noqa: E402
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402

ODD = 'a/b %25 "q" \\ é✓/x\t\x01\x7f'


def test():
    tern_only("the admin API")
    with Broker(conf=api.conf()) as b:
        p = b.http_port
        st = api.get(p, "status")
        check_eq(st["version"], ternd_version() or st["version"], "version")
        check_eq(st["node"], None, "no node name")
        check_eq(st["draining"], False, "not draining")
        check(isinstance(st["uptime"], int) and st["uptime"] >= 0, "uptime")
        check_eq([(l["address"], l["protocol"]) for l in st["listeners"]],
                 [("127.0.0.1:%d" % b.port, "mqtt")], "listeners")
        check_eq(st["http_listener"], "127.0.0.1:%d" % p, "http listener")
        check_eq(st["counts"]["connections"], 0, "no connection yet")

        clients = []
        for i in range(7):
            c = raw.Client(b.port, version=V5 if i % 2 == 0 else V311)
            c.connect("cl-%d" % i, keepalive=30 + i,
                      username="user-%d" % (i % 3), clean=(i != 0),
                      properties={"session_expiry_interval": 300}
                      if i == 0 else None)
            c.subscribe([("t/%d/#" % i, 1), ("u/%d" % i, 0)], mid=1)
            clients.append(c)
        odd = raw.Client(b.port, version=V5)
        odd.connect(ODD, clean=False,
                    properties={"session_expiry_interval": 0xFFFFFFFF})
        odd.send(raw.subscribe(2, [("odd/+", 2 | raw_opts())],
                               version=V5,
                               properties={"subscription_identifier": 7}))
        odd.expect_ack(raw.SUBACK, 2)
        pub = raw.Client(b.port, version=V5)
        pub.connect("cl-pub")
        pub.publish("ret/1", b"keep", qos=1, retain=True)
        pub.disconnect()

        wait_for(lambda: api.get(p, "status")["counts"]["connections"] == 8,
                 5.0, "cl-pub gone")
        st = api.get(p, "status")["counts"]
        check_eq(st["sessions_online"], 8, "sessions online")
        check_eq(st["subscriptions"], 15, "subscriptions")
        check(st["retained"] >= 1, "retained counted")

        # the list, a page at a time, and its items
        items = api.walk(p, "clients", 3)
        ids = [c["client_id"] for c in items]
        check_eq(sorted(ids), sorted(["cl-%d" % i for i in range(7)] +
                                     [ODD]), "every client once")
        check_eq(ids[:7], ["cl-%d" % i for i in range(7)],
                 "in connection order")
        one = items[1]
        check_eq((one["protocol"], one["user"], one["keepalive"],
                  one["subscriptions"], one["listener"], one["queued"],
                  one["inflight"]),
                 ("3.1.1", "user-1", 31, 2, "127.0.0.1:%d" % b.port, 0, 0),
                 "cl-1's fields")
        check(one["peer"].startswith("127.0.0.1:"), "peer %r" % one["peer"])
        check(abs(one["connected_at"] - time.time()) < 60, "connected_at")
        check_eq(items[0]["protocol"], "5", "cl-0 speaks 5")
        page = api.get(p, "clients?limit=5000")
        api.page_ok(page, 0, 1000, 8)
        page = api.get(p, "clients?offset=6&limit=10")
        check_eq(len(api.page_ok(page, 6, 10, 8)), 2, "the last page")
        page = api.get(p, "clients?offset=100")
        check_eq(api.page_ok(page, 100, 100, 8), [], "past the end")
        page = api.get(p, "clients?limit=0")
        check_eq(api.page_ok(page, 0, 0, 8), [], "limit 0 counts only")

        # filters
        page = api.get(p, "clients?user=user-2")
        check_eq(sorted(c["client_id"] for c in page["items"]),
                 ["cl-2", "cl-5"], "user filter")
        page = api.get(p, "clients?client_id=" + api.enc("%25 \"q"))
        check_eq([c["client_id"] for c in page["items"]], [ODD],
                 "client id filter (substring, decoded)")
        page = api.get(p, "clients?client_id=cl-&user=user-0&limit=1")
        check_eq((page["total"], len(page["items"])), (3, 1),
                 "both filters, paged")

        # one client
        one = api.get(p, "clients/" + api.enc(ODD))
        check_eq(one["client_id"], ODD, "odd id intact")
        check_eq((one["online"], one["persistent"], one["session_expiry"],
                  one["will"]), (True, True, None, False), "odd session")
        check_eq(one["connection"]["protocol"], "5", "odd connection")
        check_eq(one["subscription_list"],
                 [{"client_id": ODD, "filter": "odd/+", "qos": 2,
                   "no_local": True, "retain_as_published": True,
                   "retain_handling": 2, "subscription_identifier": 7}],
                 "odd's subscription and its options")
        one = api.get(p, "clients/cl-0")
        check_eq((one["session_expiry"], one["persistent"]), (300, True),
                 "cl-0's expiry")
        api.get(p, "clients/cl-99", want=404)
        api.get(p, "clients/" + api.enc(ODD[:-1]), want=404)
        check_eq(api.get(p, "sessions/" + api.enc(ODD))["client_id"], ODD,
                 "sessions/<id> is the same view")

        # subscriptions: sorted by client id, paged, filtered
        subs = api.walk(p, "subscriptions", 4)
        check_eq(len(subs), 15, "every subscription")
        check_eq([s["client_id"] for s in subs],
                 sorted(s["client_id"] for s in subs), "by client id")
        check_eq({(s["client_id"], s["filter"], s["qos"]) for s in subs
                  if s["client_id"] == "cl-3"},
                 {("cl-3", "t/3/#", 1), ("cl-3", "u/3", 0)}, "cl-3's")
        page = api.get(p, "subscriptions?client_id=" + api.enc(ODD))
        check_eq([s["filter"] for s in page["items"]], ["odd/+"],
                 "filtered")

        # a client gone: cl-0's session stays offline, cl-1's goes
        clients[0].disconnect()
        clients[1].disconnect()
        wait_for(lambda: api.get(p, "status")["counts"]["connections"] == 6,
                 5.0, "two clients gone")
        st = api.get(p, "status")["counts"]
        check_eq((st["sessions_online"], st["sessions_offline"]), (6, 1),
                 "sessions online and offline")
        one = api.get(p, "clients/cl-0")
        check_eq((one["online"], one["connection"]), (False, None),
                 "cl-0 offline")
        api.get(p, "clients/cl-1", want=404)
        check("cl-0" not in [c["client_id"] for c in
                             api.get(p, "clients")["items"]],
              "offline cl-0 not in the client list")
        for c in clients[2:] + [odd]:
            c.disconnect()


def raw_opts():
    # no local, retain as published, retain handling 2
    return 0x04 | 0x08 | 0x20


main(test)
