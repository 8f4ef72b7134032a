#!/usr/bin/env python3
"""SIGHUP switches the push webhook (push_webhook) at run time.

bob (v5, persistent) subscribes at QoS 1 and goes away; alice sends him
a message before each step:
A. push_webhook is hook A: A gets the event.
B. A is slow (it answers after 4 s); a message goes, its request is in
   flight to A, and SIGHUP switches push_webhook to hook B: B gets that
   event (the batch in flight is sent again, to the new URL) well before
   A would have answered, and the next message's event too; A gets no
   request after the switch.
C. push_webhook removed: a message fires nothing anywhere.
D. push_webhook back to A: the next message's event reaches A, and only
   A."""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402
from webhook import Webhook  # noqa: E402

EXPIRY = {"session_expiry_interval": 3600}


def sizes(hook):
    return [e["size"] for e in hook.events()]


def test():
    tern_only("push_webhook")
    with Webhook() as a, Webhook() as hb:
        with Broker(conf=["push_webhook %s" % a.url]) as b:
            bob = raw.Client(b.port, version=V5)
            bob.connect("bob", clean=False, properties=EXPIRY)
            bob.subscribe("im/u/bob", qos=1)
            bob.disconnect()
            alice = raw.Client(b.port, version=V5)
            alice.connect("alice")
            mid = [0]

            def send(n):
                # n bytes: the events tell the messages apart by size
                mid[0] += 1
                alice.publish("im/u/bob", b"x" * n, qos=1, mid=mid[0])

            # A
            send(1)
            a.wait_events(1, what="A")
            check_eq(sizes(a), [1], "A: hook A has the event")

            # B
            a.mode = "slow"
            a.delay = 4.0
            send(2)
            time.sleep(0.5)  # its request reaches A, which sits on it
            switched = time.monotonic()
            b.reload(["push_webhook %s" % hb.url])
            hb.wait_events(1, timeout=3.0, what="B: the batch in flight")
            check(time.monotonic() - switched < 3.5, "B: sent to B "
                  "before A answered")
            send(3)
            hb.wait_events(2, what="B: after the switch")
            check_eq(sorted(sizes(hb)), [2, 3], "B: hook B has the events")
            # A answers its request (the one in flight) at most; nothing
            # else reaches it.
            time.sleep(4.0)
            check(set(sizes(a)) <= {1, 2}, "B: A got nothing after the "
                  "switch: %r" % sizes(a))

            # C
            b.reload([])
            b.wait_log("push_webhook changed in %s: applied" % b.conf_path)
            na, nb = len(a.requests), len(hb.requests)
            send(4)
            time.sleep(1.5)
            check_eq((len(a.requests), len(hb.requests)), (na, nb),
                     "C: no request once push_webhook is removed")

            # D
            a.mode = "ok"
            b.reload(["push_webhook %s" % a.url])
            send(5)
            wait_for(lambda: 5 in sizes(a), 5, "D: hook A again")
            check_eq(len(hb.requests), nb, "D: nothing to B")
            check(4 not in sizes(a) + sizes(hb), "D: the event of C's "
                  "message was not kept")
            alice.disconnect()


main(test)
