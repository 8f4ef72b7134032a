#!/usr/bin/env python3
"""A session belongs to the user who made it, across cluster nodes too:
alice's persistent session lives on n1; bob connecting to n2 with her
client id is refused (v5 0x87, 3.1.1 return code 5), and an anonymous
client too, and her session stays on n1, hers, with the message queued
for it. Alice herself, connecting to n2, gets it (session present, the
queued message). A session that moved to another node without its
client keeps its owner there. session_owner_only false lets bob take it
over from another node, as before."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402,F401
from authutil import *  # noqa: E402,F401,F403
from cluster import Cluster  # noqa: E402

EXPIRY = {"session_expiry_interval": 3600}
CID = "alice-phone"


def connect(port, user, pw, version=V5, rc=0):
    c = raw.Client(port, version=version)
    ack = c.connect(CID, clean=False, username=user,
                    password=pw, rc=rc,
                    properties=EXPIRY if version == V5 else None)
    return c, ack


def alice_session(cl):
    """alice's persistent session on n1, subscribed, offline, with one
    QoS 1 message queued."""
    a, ack = connect(cl[0].port, "alice", b"a")
    a.subscribe("inbox/alice", qos=1)
    a.disconnect()
    a.close()
    p = raw.Client(cl[2].port, version=V5)
    p.connect("owner-pub", username="alice", password=b"a")
    p.publish("inbox/alice", b"for-alice", qos=1, mid=1)
    p.disconnect()
    p.close()


def test():
    pw = password_file({"alice": "a", "bob": "b"})
    conf = ["password_file %s" % pw, "allow_anonymous true"]
    with Cluster(3, conf=conf) as cl:
        alice_session(cl)
        for version, want in ((V5, RC_NOT_AUTHORIZED),
                              (V311, RC311_NOT_AUTHORIZED)):
            x, ack = connect(cl[1].port, "bob", b"b", version, rc=None)
            check_eq(ack.reason, want, "bob with alice's client id on n2 "
                     "(v%d), her session on n1" % version)
            x.close()
        x = raw.Client(cl[1].port, version=V5)
        ack = x.connect(CID, clean=False, rc=None, properties=EXPIRY)
        check_eq(ack.reason, RC_NOT_AUTHORIZED, "an anonymous client with "
                 "alice's id on n2")
        x.close()
        check("belongs to user 'alice'" in cl[0].log(),
              "n1 logs why it kept the session")
        a, ack = connect(cl[1].port, "alice", b"a")
        check_eq(ack.session_present, 1, "alice on n2: her session came")
        p = a.expect(raw.PUBLISH, what="the message queued for alice")
        check_eq(p.payload, b"for-alice", "the message queued for alice")
        a.ack(p)
        a.disconnect()
        a.close()

    # A session that moves without its client keeps its owner: an
    # anonymous client's session on n1 is claimed by a CONNECT on n2
    # whose client leaves before the answer; the session moves to n2
    # all the same, and n2 must know whose it is ($cluster/owner) when
    # bob connects to n3.
    with Cluster(3, conf=conf) as cl:
        a = raw.Client(cl[0].port, version=V5)
        a.connect("anon-phone", clean=False, properties=EXPIRY)
        a.subscribe("inbox/anon", qos=1)
        a.disconnect()
        a.close()
        a = raw.Client(cl[1].port, version=V5)
        a.send(raw.connect("anon-phone", version=V5, clean=False,
                           properties=EXPIRY))
        a.close()
        cl[1].wait_log("session anon-phone moved here from n1", 10.0)
        x = raw.Client(cl[2].port, version=V5)
        ack = x.connect("anon-phone", clean=False, username="bob",
                        password=b"b", rc=None, properties=EXPIRY)
        check_eq(ack.reason, RC_NOT_AUTHORIZED, "bob on n3 with the id of "
                 "an anonymous client's session that moved to n2 without "
                 "its client")
        x.close()

    with Cluster(3, conf=conf + ["session_owner_only false"]) as cl:
        alice_session(cl)
        x, ack = connect(cl[1].port, "bob", b"b")
        check_eq(ack.session_present, 1, "session_owner_only false: bob "
                 "on n2 takes alice's session from n1")
        x.disconnect()
        x.close()


main(test)
