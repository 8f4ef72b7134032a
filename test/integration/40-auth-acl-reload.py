#!/usr/bin/env python3
"""SIGHUP reloads the ACL file: new rules apply at once to connected
clients (subscribe, publish, and messages already queued for them); a
broken file is logged with FILE:LINE and the previous rules kept."""
import signal
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from authutil import *  # noqa: E402,F401,F403



def hup(b, text):
    n = b.log().count(text)
    b.signal(signal.SIGHUP)
    wait_for(lambda: b.log().count(text) > n, 5, "%r after SIGHUP" % text)


def test():
    tern_only("acl_file")
    acl = acl_file("topic readwrite a/#\ntopic readwrite q/#\n")
    with Broker(conf=["acl_file %s" % acl, "max_inflight_messages 1"]) as b:
        c = raw.Client(b.port, version=V5)
        c.connect("c1")
        check_eq(c.subscribe([("b/#", 1)], mid=1).codes,
                 [RC_NOT_AUTHORIZED], "b/# refused before")
        check_eq(c.subscribe([("q/#", 1)], mid=2).codes, [1], "q/# granted")
        # two messages for c1: the first in flight (not acknowledged),
        # the second waits in its queue
        p = raw.Client(b.port, version=V5)
        p.connect("p1")
        p.publish("q/1", b"one", qos=1, mid=1)
        p.publish("q/2", b"two", qos=1, mid=2)
        first = c.recv_publish(timeout=3.0, ack=False)
        check_eq(first.topic, "q/1", "first message in flight")

        with open(acl, "w") as f:
            f.write("topic readwrite a/#\ntopic readwrite b/#\n"
                    "topic write q/#\n")
        hup(b, "ACL reloaded")
        check_eq(c.subscribe([("b/#", 1)], mid=3).codes, [1],
                 "b/# granted after SIGHUP")
        check_eq(c.publish("a/x", b"x", qos=1, mid=4).reason, 0x10,
                 "a/# still writable (no subscriber)")
        c.ack(first)
        c.expect_none(0.5)  # q/2 no longer readable: dropped at send
        b.wait_log("ACL: read denied to client c1 (user <anonymous>) on q/2")

        with open(acl, "w") as f:
            f.write("topic readwrite a/#\ntopic nonsense/#/x\n")
        hup(b, "acl_file not reloaded, keeping the previous rules")
        check("%s:2: invalid topic filter" % acl in b.log(),
              "FILE:LINE in the log")
        check_eq(c.subscribe([("b/1", 1)], mid=5).codes, [1],
                 "previous rules kept")
        c.disconnect()
        p.disconnect()


main(test)
