#!/usr/bin/env python3
"""Authentication and ACLs in a cluster: with the same password and ACL
files on every node, the node links (which authenticate with
cluster_secret, not the password file) still come up; a message written
on one node reaches an allowed reader on another, and a reader without
the right on the receiving node does not get it (read is checked where
the subscriber is); a write the ACL refuses is refused on the node it
is published to and is not forwarded. A SCRAM-SHA-256 login goes through
the cluster's claim of its client id (the CONNECT held after the AUTH
exchange) and takes a session over from the other node."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from authutil import *  # noqa: E402,F401,F403
from cluster import Cluster  # noqa: E402

ACL = """pattern read im/u/%u/#
pattern write im/u/+/#
pattern subscribe im/#
"""


def test():
    tern_only("a tern cluster")
    pw = password_file({"alice": "a", "bob": "b", "carol": "c",
                        "dave": "d"}, scram=("dave",))
    acl = acl_file(ACL)
    with Cluster(2, conf=["password_file %s" % pw,
                          "acl_file %s" % acl]) as cl:
        alice = raw.Client(cl[0].port, version=V5)
        alice.connect("alice", username="alice", password=b"a")
        check_eq(alice.subscribe([("im/u/alice/#", 1)], mid=1).codes, [1],
                 "alice's inbox")
        carol = raw.Client(cl[0].port, version=V5)
        carol.connect("carol", username="carol", password=b"c")
        check_eq(carol.subscribe([("im/#", 1)], mid=1).codes, [1],
                 "carol may subscribe to im/#")
        # the SUBACKs wait for the routes to reach the other node
        bob = raw.Client(cl[1].port, version=V5)
        bob.connect("bob", username="bob", password=b"b")
        check_eq(bob.publish("im/x/alice", b"no", qos=1, mid=1).reason,
                 RC_NOT_AUTHORIZED, "bob may not write outside im/u/")
        check_eq(bob.publish("im/u/alice/1", b"hi", qos=1, mid=2).reason, 0,
                 "bob writes to alice's inbox on the other node")
        m = alice.recv_publish(timeout=5.0)
        check_eq((m.topic, m.payload), ("im/u/alice/1", b"hi"),
                 "forwarded to alice")
        alice.expect_none(0.3)
        carol.expect_none(0.5)  # subscribed to im/#, reads only her own
        cl[0].wait_log("ACL: read denied to client carol (user carol) on "
                       "im/u/alice/1")
        check("im/x/alice" not in cl[0].log(), "refused write not forwarded")
        for c in (alice, carol, bob):
            c.disconnect()

        d0, ack = login(cl[0].port, "dave", "d", "dave")
        check_eq(ack.reason, 0, "SCRAM login on node 0")
        check_eq(ack.props.get("authentication_data"),
                 ("v=" + b64(d0.server_sig)).encode(),
                 "server signature on node 0")
        d1, ack = login(cl[1].port, "dave", "d", "dave")
        check_eq(ack.reason, 0, "SCRAM login on node 1 (claim)")
        check_eq(ack.props.get("authentication_data"),
                 ("v=" + b64(d1.server_sig)).encode(),
                 "server signature after the claim")
        d0.c.wait_closed(5.0)
        check_eq(d1.c.subscribe([("im/u/dave/#", 0)], mid=1).codes, [0],
                 "dave's inbox")
        bob = raw.Client(cl[1].port, version=V5)
        bob.connect("bob", username="bob", password=b"b")
        bob.publish("im/u/dave/1", b"hi dave", qos=1, mid=3)
        m = d1.c.recv_publish(timeout=5.0)
        check_eq((m.topic, m.payload), ("im/u/dave/1", b"hi dave"),
                 "the ACL's %u is dave after the claim")
        d1.c.disconnect()
        bob.disconnect()


main(test)
