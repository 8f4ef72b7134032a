#!/usr/bin/env python3
"""POST /api/v1/clients/<id>/kick: a v5 client gets DISCONNECT 0x98
(Administrative action) and its socket closes; its persistent session
stays (listed offline), gets what is published meanwhile, and its
client resumes it with session present 1 and that message; its will is
published as at any close it did not ask for; its presence goes offline
with reason "kicked". A 3.1.1 client is closed. Kicking a client that is
not connected (an offline session, an unknown id) is 404; a kick needs
the token."""
import json
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import apiutil as api  # noqa: E402
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402


def test():
    tern_only("the admin API")
    conf = api.conf() + ["presence_topic presence/%c",
                         "presence_debounce 0"]
    with Broker(conf=conf) as b:
        p = b.http_port
        watch = raw.Client(b.port, version=V5)
        watch.connect("k-watch")
        watch.subscribe([("will/#", 1), ("presence/k-v5", 1)], mid=1)

        c = raw.Client(b.port, version=V5)
        c.connect("k-v5", clean=False, will=("will/k-v5", b"gone", 1, False),
                  properties={"session_expiry_interval": 300})
        c.subscribe("k/t", qos=1)
        m = watch.recv_publish(timeout=5.0)
        check_eq(json.loads(m.payload)["status"], "online", "presence")

        status, _, doc = api.call(p, "clients/k-v5/kick", method="POST",
                                  token=None)
        check_eq(status, 401, "a kick without the token")
        check(c.is_open(0.3), "still connected after the refused kick")

        doc = api.post(p, "clients/k-v5/kick")
        check_eq((doc["kicked"], doc["session_kept"]), ("k-v5", True),
                 "kick answer")
        got = c.wait_closed(5.0)
        check_eq([(x.type, x.reason) for x in got],
                 [(raw.DISCONNECT, 0x98)], "DISCONNECT 0x98, then closed")
        c.close()
        seen = {}
        for _ in range(2):
            m = watch.recv_publish(timeout=5.0)
            seen[m.topic] = m.payload
        check_eq(seen.get("will/k-v5"), b"gone", "the will went")
        off = json.loads(seen["presence/k-v5"])
        check_eq((off["status"], off["reason"]), ("offline", "kicked"),
                 "presence offline, reason kicked")

        one = api.get(p, "clients/k-v5")
        check_eq((one["online"], one["persistent"]), (False, True),
                 "the session stays, offline")
        api.post(p, "clients/k-v5/kick", want=404)
        api.post(p, "clients/nobody/kick", want=404)

        pub = raw.Client(b.port, version=V5)
        pub.connect("k-pub")
        pub.publish("k/t", b"meanwhile", qos=1)
        pub.disconnect()
        wait_for(lambda: api.get(p, "clients/k-v5")["queued"] == 1, 5.0,
                 "the message queued for the kicked session")

        c = raw.Client(b.port, version=V5)
        ack = c.connect("k-v5", clean=False,
                        properties={"session_expiry_interval": 300})
        check_eq(ack.session_present, 1, "resumed: session present")
        m = c.recv_publish(timeout=5.0)
        check_eq((m.topic, m.payload), ("k/t", b"meanwhile"),
                 "what came meanwhile")
        c.disconnect()

        old = raw.Client(b.port, version=V311)
        old.connect("k-311")
        api.post(p, "clients/k-311/kick")
        check_eq(old.wait_closed(5.0), [], "3.1.1: closed, no packet")
        old.close()
        wait_for(lambda: api.get(p, "clients?client_id=k-311")["total"] == 0,
                 5.0, "k-311 gone from the list")
        api.get(p, "clients/k-311", want=404)
        watch.disconnect()


main(test)
