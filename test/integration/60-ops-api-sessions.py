#!/usr/bin/env python3
"""GET /api/v1/sessions lists offline persistent sessions too (online=
filters, sorted by client id, paged), with their queue; DELETE
/api/v1/sessions/<id> ends a session the way its expiry does: an offline
session with queued QoS 1 messages is gone at once (no longer listed,
404), and still gone after a restart (its client resumes with session
present 0 and gets nothing); a connected session's client gets
DISCONNECT 0x98 and the session goes with it; an unknown id is 404."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import apiutil as api  # noqa: E402
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402

EXPIRY = {"session_expiry_interval": 3600}


def offline_session(port, cid, topic):
    c = raw.Client(port, version=V5)
    c.connect(cid, clean=False, properties=EXPIRY)
    c.subscribe(topic, qos=1)
    c.disconnect()


def test():
    tern_only("the admin API")
    with Broker(conf=api.conf()) as b:
        p = b.http_port
        offline_session(b.port, "s-gone", "s/gone")
        offline_session(b.port, "s-kept", "s/kept")
        live = raw.Client(b.port, version=V311)
        live.connect("s-live", clean=False)
        live.subscribe("s/live", qos=1)
        pub = raw.Client(b.port, version=V5)
        pub.connect("s-pub")
        for i in range(3):
            pub.publish("s/gone", b"g%d" % i, qos=1, mid=i + 1)
        pub.publish("s/kept", b"k", qos=1, mid=9)
        pub.disconnect()

        wait_for(lambda: api.get(p, "sessions?online=false")["total"] == 2,
                 5.0, "two offline sessions")
        items = api.walk(p, "sessions", 1)
        check_eq([s["client_id"] for s in items],
                 ["s-gone", "s-kept", "s-live"],
                 "sessions, by client id (s-pub's is gone)")
        gone = items[0]
        check_eq((gone["online"], gone["persistent"], gone["queued"],
                  gone["session_expiry"], gone["subscriptions"]),
                 (False, True, 3, 3600, 1), "s-gone offline, 3 queued")
        check_eq([s["client_id"] for s in
                  api.get(p, "sessions?online=true")["items"]], ["s-live"],
                 "online=true")
        check_eq(api.get(p, "sessions?client_id=kep")["total"], 1,
                 "client_id filter")
        st = api.get(p, "status")["counts"]
        check_eq((st["sessions_offline"], st["queued"]), (2, 4),
                 "status: offline sessions and queued messages")

        status, _, _ = api.call(p, "sessions/s-gone", method="DELETE",
                                token=None)
        check_eq(status, 401, "DELETE without the token")
        check_eq(api.delete(p, "sessions/s-gone"), {"deleted": "s-gone"},
                 "delete answer")
        api.get(p, "sessions/s-gone", want=404)
        api.delete(p, "sessions/s-gone", want=404)
        api.delete(p, "sessions/nobody", want=404)
        check_eq([s["client_id"] for s in api.get(p, "sessions")["items"]],
                 ["s-kept", "s-live"], "s-gone not listed")
        check_eq(api.get(p, "status")["counts"]["queued"], 1,
                 "its queue went with it")

        # a connected session: the client is sent away, the session goes
        api.delete(p, "sessions/s-live")
        check_eq(live.wait_closed(5.0), [], "3.1.1 s-live closed")
        live.close()
        api.get(p, "sessions/s-live", want=404)

        b.restart()
        p = b.http_port
        check_eq([s["client_id"] for s in api.get(p, "sessions")["items"]],
                 ["s-kept"], "after a restart: only s-kept")
        c = raw.Client(b.port, version=V5)
        ack = c.connect("s-gone", clean=False, properties=EXPIRY)
        check_eq(ack.session_present, 0, "s-gone: a new session")
        c.expect_none(0.5)
        c.disconnect()
        c = raw.Client(b.port, version=V311)
        ack = c.connect("s-live", clean=False)
        check_eq(ack.session_present, 0, "s-live: a new session")
        c.disconnect()
        c = raw.Client(b.port, version=V5)
        ack = c.connect("s-kept", clean=False, properties=EXPIRY)
        check_eq(ack.session_present, 1, "s-kept resumed")
        m = c.recv_publish(timeout=5.0)
        check_eq(m.payload, b"k", "s-kept's message")
        c.disconnect()


main(test)
