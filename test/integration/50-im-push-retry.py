#!/usr/bin/env python3
"""The push webhook when its server is down, failing, slow or full
(push_webhook; push_queue_max; $SYS/broker/push/...).

D. Down, then up: the server is not listening when three QoS 1 messages
   are queued for bob (offline, persistent); the node logs the failure
   and retries; once the server listens on that port the three events
   arrive, in order (queued 1, 2, 3), each once.
F. Failing, then OK: the server answers 500 twice; the node sends the
   same body again (the 500 requests and the 200 one carry the same
   events) and the two events arrive once.
S. Slow: the server takes 2 s per answer. While a request hangs, carol
   (online) still gets a message to her at once (well within 1.5 s: a
   node that waited for the webhook would take 2 s or more), and 20
   more events for bob go in fewer requests than events (batched).
   Stopped while a request hangs, the node exits at once and logs the
   event it did not send.
Q. The bound: push_queue_max 3, the server down: of 5 events the first
   3 wait and 2 are dropped, counted on $SYS/broker/push/dropped and
   logged; once the server is up, the first three arrive (queued 1, 2,
   3) and $SYS shows sent 3, waiting 0."""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402
from cluster import SysWatch  # noqa: E402
from webhook import Webhook, refused  # noqa: E402

EXPIRY = {"session_expiry_interval": 3600}
SYS = "$SYS/broker/push/"


def offline(port, cid, topic):
    c = raw.Client(port, version=V5)
    c.connect(cid, clean=False, properties=EXPIRY)
    c.subscribe(topic, qos=1)
    c.disconnect()


def publisher(port, cid="alice"):
    a = raw.Client(port, version=V5)
    a.connect(cid)
    return a


def part_d():
    hook = Webhook(start=False)
    check(refused(hook.port), "D: nothing listens yet")
    with Broker(conf=["push_webhook %s" % hook.url], name="d") as b:
        offline(b.port, "bob", "im/u/bob")
        a = publisher(b.port)
        for i in range(3):
            a.publish("im/u/bob", b"down %d" % i, qos=1, mid=i + 1)
        b.wait_log("push: POST to %s failed" % hook.url, timeout=10)
        time.sleep(1.0)
        check_eq(hook.requests, [], "D: nothing received while down")
        with hook.start():
            ev = hook.wait_events(3, timeout=20.0, what="D")
            time.sleep(1.0)
            ev = hook.events()
            check_eq([(e["client_id"], e["size"], e["queued"]) for e in ev],
                     [("bob", 6, 1), ("bob", 6, 2), ("bob", 6, 3)],
                     "D: the three events after the retry, once each")
        a.disconnect()
        b.check_log_clean()


def part_f():
    with Webhook(mode="failing") as hook:
        hook.fail_left = 2
        with Broker(conf=["push_webhook %s" % hook.url], name="f") as b:
            offline(b.port, "bob", "im/u/bob")
            a = publisher(b.port)
            a.publish("im/u/bob", b"f1", qos=1, mid=1)
            a.publish("im/u/bob", b"f2", qos=1, mid=2)
            hook.wait_events(2, timeout=20.0, what="F")
            time.sleep(1.0)
            check_eq(len(hook.events()), 2, "F: two events, once each")
            failed = [r for r in hook.requests if r.status == 500]
            check_eq(len(failed), 2, "F: two answers 500")
            ids = [e["message_id"] for e in hook.events()]
            check(all([e["message_id"] for e in r.events][:len(ids)] ==
                      ids[:len(r.events)] for r in failed),
                  "F: the same events sent again: %r" % hook.requests)
            a.disconnect()
            b.check_log_clean()


def part_s():
    with Webhook(mode="slow", delay=2.0) as hook:
        with Broker(conf=["push_webhook %s" % hook.url], name="s") as b:
            offline(b.port, "bob", "im/u/bob")
            carol = raw.Client(b.port, version=V5)
            carol.connect("carol")
            carol.subscribe("im/u/carol", qos=1)
            a = publisher(b.port)
            a.publish("im/u/bob", b"first", qos=1, mid=1)
            # The first request is in flight (and hangs 2 s).
            wait_for(lambda: hook.started >= 1, 10.0,
                     "S: the first request reached the webhook")
            for i in range(20):
                a.publish("im/u/bob", b"more", qos=1, mid=2 + i)
            a.publish("im/u/carol", b"now", qos=1, mid=30)
            m = carol.recv_publish(timeout=5.0)
            answered = len(hook.requests)
            check_eq(m.payload, b"now", "S: carol's message")
            # An order, not a delay: carol has it before the webhook has
            # answered its first request (which it holds 2 s).
            check_eq(answered, 0, "S: requests the webhook had answered "
                     "when carol got her message (it hangs; she must not "
                     "wait for it)")
            ev = hook.wait_events(21, timeout=30.0, what="S")
            check_eq(len(ev), 21, "S: 21 events")
            n = len(hook.requests)
            check(n < 21 and n <= 4, "S: batched: %d requests for 21 "
                  "events" % n)
            check_eq([e["queued"] for e in ev], list(range(1, 22)),
                     "S: in order")
            # Stopped while a request hangs: it exits at once, freeing
            # what waits (the sanitizers check), and says it was lost.
            hook.delay = 6.0
            a.publish("im/u/bob", b"last", qos=1, mid=31)
            time.sleep(0.5)
            a.disconnect()
            carol.disconnect()
            t0 = time.monotonic()
            b.stop()
            check(time.monotonic() - t0 < 4.0, "S: the node stops without "
                  "waiting for the webhook (%.2f s)" % (time.monotonic() - t0))
            check("push: 1 events not sent" in b.log(),
                  "S: the stop says what was not sent")
            b.check_log_clean()


def part_q():
    hook = Webhook(start=False)
    with Broker(conf=["push_webhook %s" % hook.url, "push_queue_max 3",
                      "sys_interval 1"], name="q") as b:
        w = SysWatch(b.port, "q")
        offline(b.port, "bob", "im/u/bob")
        a = publisher(b.port)
        for i in range(5):
            a.publish("im/u/bob", b"q%d" % i, qos=1, mid=i + 1)
        w.wait(SYS + "dropped", lambda v: v == "2", timeout=10.0,
               what="Q: 2 dropped on $SYS")
        w.wait(SYS + "waiting", lambda v: v == "3", timeout=10.0,
               what="Q: 3 waiting on $SYS")
        b.wait_log("push: push_queue_max reached, dropping events")
        with hook.start():
            hook.wait_events(3, timeout=20.0, what="Q")
            w.wait(SYS + "sent", lambda v: v == "3", timeout=10.0,
                   what="Q: 3 sent on $SYS")
            w.wait(SYS + "waiting", lambda v: v == "0", timeout=10.0,
                   what="Q: none waiting on $SYS")
            check_eq([(e["size"], e["queued"]) for e in hook.events()],
                     [(2, 1), (2, 2), (2, 3)],
                     "Q: the first three events, once each")
            check_eq(w.get(SYS + "dropped"), "2", "Q: still 2 dropped")
        w.close()
        a.disconnect()
        b.check_log_clean()


def test():
    tern_only("push webhook")
    part_d()
    part_f()
    part_s()
    part_q()


main(test)
