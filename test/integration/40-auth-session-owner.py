#!/usr/bin/env python3
"""A session belongs to the user who made it: bob connecting with alice's
client id is refused (v5 0x87, 3.1.1 return code 5) and alice stays
connected, her session and queue hers; also after a restart (the user is
stored with the session). session_owner_only false restores the old
behaviour (bob takes the session over). client_id_user_prefix true
ties client ids to users: bob may use "bob" and "bob-phone", not
"bobby" nor "alice-x"; anonymous clients are not concerned."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from authutil import *  # noqa: E402,F401,F403

EXPIRY = {"session_expiry_interval": 3600}


def alice(port):
    a = raw.Client(port, version=V5)
    a.connect("alice-phone", clean=False, username="alice", password=b"a",
              properties=EXPIRY)
    return a


def test():
    tern_only("session ownership")
    pw = password_file({"alice": "a", "bob": "b"})
    with Broker(conf=["password_file %s" % pw,
                      "allow_anonymous true"]) as b:
        a = alice(b.port)
        a.subscribe("inbox/alice", qos=1)
        for version, want in ((V5, RC_NOT_AUTHORIZED),
                              (V311, RC311_NOT_AUTHORIZED)):
            x = raw.Client(b.port, version=version)
            ack = x.connect("alice-phone", clean=False, username="bob",
                            password=b"b", rc=None,
                            properties=EXPIRY if version == V5 else None)
            check_eq(ack.reason, want, "bob with alice's client id (v%d)"
                     % version)
            x.close()
        # Anonymous is another owner too.
        x = raw.Client(b.port, version=V5)
        ack = x.connect("alice-phone", clean=True, rc=None)
        check_eq(ack.reason, RC_NOT_AUTHORIZED,
                 "an anonymous client with alice's id (clean start)")
        x.close()
        a.ping()
        a.disconnect()
        a.close()
        # Offline, then after a restart: still hers.
        b.restart()
        x = raw.Client(b.port, version=V5)
        ack = x.connect("alice-phone", clean=False, username="bob",
                        password=b"b", rc=None, properties=EXPIRY)
        check_eq(ack.reason, RC_NOT_AUTHORIZED,
                 "bob with alice's client id after a restart")
        x.close()
        a = alice(b.port)
        a.disconnect()
        a.close()

    with Broker(conf=["password_file %s" % pw,
                      "session_owner_only false"]) as b:
        a = alice(b.port)
        x = raw.Client(b.port, version=V5)
        ack = x.connect("alice-phone", clean=False, username="bob",
                        password=b"b", rc=None, properties=EXPIRY)
        check_eq(ack.reason, 0, "session_owner_only false: bob takes over")
        check_eq(ack.session_present, 1, "and gets the session")
        x.disconnect()
        x.close()
        a.close()

    with Broker(conf=["password_file %s" % pw, "allow_anonymous true",
                      "client_id_user_prefix true"]) as b:
        for cid, want in (("bob", 0), ("bob-phone", 0), ("bob@laptop", 0),
                          ("bobby", RC_NOT_AUTHORIZED),
                          ("alice-x", RC_NOT_AUTHORIZED)):
            x = raw.Client(b.port, version=V5)
            ack = x.connect(cid, username="bob", password=b"b", rc=None)
            check_eq(ack.reason, want, "client_id_user_prefix: bob as "
                     "client id %r" % cid)
            if want == 0:
                x.disconnect()
            x.close()
        x = raw.Client(b.port, version=V311)
        ack = x.connect("bobby", username="bob", password=b"b", rc=None)
        check_eq(ack.reason, RC311_NOT_AUTHORIZED,
                 "client_id_user_prefix: 3.1.1 return code 5")
        x.close()
        x = raw.Client(b.port, version=V5)
        ack = x.connect("anything", rc=None)
        check_eq(ack.reason, 0, "anonymous clients are not concerned")
        x.disconnect()
        x.close()


main(test)
