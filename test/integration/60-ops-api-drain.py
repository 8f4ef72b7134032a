#!/usr/bin/env python3
"""POST /api/v1/drain does what SIGUSR1 does: a connected v5 client gets
DISCONNECT 0x9C (Use another server) with the listener's Server
Reference, a 3.1.1 client is closed, a new CONNECT is refused (0x9C);
/status says draining; a second drain is 409; without the token nothing
happens (401); the node still stops cleanly."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import apiutil as api  # noqa: E402
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402
from v5util import *  # noqa: E402,F401,F403


def test():
    tern_only("the admin API")
    with Broker(conf=api.conf() + ["server_reference other:1883"]) as b:
        p = b.http_port
        c5 = raw.Client(b.port, version=V5)
        c5.connect("d-v5")
        c3 = raw.Client(b.port, version=V311)
        c3.connect("d-311")
        status, _, _ = api.call(p, "drain", method="POST", token=None)
        check_eq(status, 401, "drain without the token")
        check(c5.is_open(0.3) and c3.is_open(0.1), "nobody sent away")
        check_eq(api.get(p, "status")["draining"], False, "not draining")

        doc = api.post(p, "drain")
        check_eq(doc["draining"], True, "drain answer")
        d = expect_server_disconnect(c5, RC_USE_ANOTHER_SERVER, "v5 client")
        check_eq(d.props.get("server_reference"), "other:1883",
                 "Server Reference")
        check_eq(c3.wait_closed(5.0), [], "3.1.1 client closed")
        c3.close()
        check_eq(api.get(p, "status")["draining"], True, "status draining")
        api.post(p, "drain", want=409)
        n = raw.Client(b.port, version=V5)
        n.connect("d-new", rc=RC_USE_ANOTHER_SERVER)
        n.close()
        check_eq(api.get(p, "status")["counts"]["connections"], 0,
                 "no client left")


main(test)
