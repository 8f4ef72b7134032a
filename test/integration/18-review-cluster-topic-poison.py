#!/usr/bin/env python3
"""Review: a client message on a "$cluster/" topic must not be taken for
a control message of the node link it is forwarded on.

A client on n1 publishes a retained QoS 2 message on "$cluster/x" (a
topic name like any other on a client listener). Retained messages go to
every node, so n1 forwards it to n2 on its link; n2's bridge_dispatch sees
a "$cluster/" topic on LINK_IN and hands it to link_in_control, which
refuses QoS 2 with a protocol error and closes the link. The message stays
at the head of n1's forward queue and is resent on every reconnect, so the
link n1 -> n2 never carries anything again: a message published on n1
afterwards never reaches a subscriber on n2.

Expected: in a cluster "$cluster/" topics are the links' own: the
client's PUBLISH there is refused (DISCONNECT 0x90), nothing reaches the
other node, the links stay up, and a later message arrives on n2."""
import os
import socket
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, log, main  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import Cluster  # noqa: E402


def test():
    with Cluster(2) as cl:
        sub = raw.Client(cl[1].port, version=raw.V5)
        sub.connect("poison-sub")
        sub.subscribe([("after/poison", 1)])

        p = raw.Client(cl[0].port, version=raw.V5)
        p.connect("poison-pub")
        p.send(raw.publish("$cluster/x", b"just a client message", qos=2,
                           retain=True, mid=1, version=raw.V5))
        d = p.expect(raw.DISCONNECT)
        check_eq(d.reason, 0x90, "DISCONNECT reason for a $cluster/ "
                 "topic")
        p.close()
        p = raw.Client(cl[0].port, version=raw.V5)
        p.connect("poison-pub2")
        p.publish("after/poison", b"after", qos=1, mid=2)

        got = None
        try:
            got = sub.recv_publish(timeout=10.0)
        except AssertionError as e:
            log("no message on n2: %s" % e)
        downs = cl[0].log().count("cluster link to n2 (")
        log("n1 log lines about its link to n2: %d; n2 closes: %d" % (
            downs, cl[1].log().count("PROTOCOL_ERROR") +
            cl[1].log().count("protocol error")))
        check(got is not None, "a message published on n1 after a client "
              "message on $cluster/x never reached the subscriber on n2 "
              "(the link n1 -> n2 is closed by n2 for each resend)")
        check_eq(got.payload, b"after", "payload on n2")
        p.disconnect()
        sub.disconnect()


main(test)
