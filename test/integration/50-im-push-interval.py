#!/usr/bin/env python3
"""push_min_interval 2: at most one webhook event per recipient per
interval, and the last one tells what waits.

What tern promises (tern.conf(5), push_min_interval): the first message
for a client sends its event at once and opens the interval; later ones
within it send nothing then; when the interval ends one event goes for
the last of them, with "queued" counted at that moment, and opens the
next interval; that event is not sent if the client connected
meanwhile.

I. bob (offline, persistent) gets a burst of 5 QoS 1 messages: one event
   at once (queued 1, the first message's id), then one more at the end
   of the interval (queued 5, the fifth message's id), then nothing.
   erin's first message meanwhile has its own event at once (the
   interval is per recipient).
J. frank gets 2 messages (one event, one held); he connects before the
   interval ends and gets both: the held event is not sent.
K. After a quiet interval bob's next message has its event at once
   again (queued 6)."""
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


def offline(port, cid):
    c = raw.Client(port, version=V5)
    c.connect(cid, clean=False, properties=EXPIRY)
    c.subscribe("im/u/%s" % cid, qos=1)
    c.disconnect()


def mid_of(p):
    return dict(p.props.get("user_property", [])).get("tern-mid")


def of(hook, cid):
    return [e for e in hook.events() if e["client_id"] == cid]


def test():
    tern_only("push webhook")
    with Webhook() as hook, \
            Broker(conf=["push_webhook %s" % hook.url,
                         "push_min_interval 2",
                         "message_id_property true"]) as b:
        for cid in ("bob", "erin", "frank"):
            offline(b.port, cid)
        a = raw.Client(b.port, version=V5)
        a.connect("alice")
        # I.
        t0 = time.monotonic()
        for i in range(5):
            a.publish("im/u/bob", b"burst %d" % i, qos=1, mid=i + 1)
        a.publish("im/u/erin", b"for erin", qos=1, mid=6)
        wait_for(lambda: len(of(hook, "bob")) >= 1 and
                 len(of(hook, "erin")) >= 1, timeout=5.0,
                 what="I: the first events")
        check(time.monotonic() - t0 < 1.5 and len(of(hook, "bob")) == 1,
              "I: one event for bob at once, not more: %r" % of(hook, "bob"))
        check_eq([e["queued"] for e in of(hook, "erin")], [1],
                 "I: erin's own event")
        wait_for(lambda: len(of(hook, "bob")) >= 2, timeout=8.0,
                 what="I: bob's event at the end of the interval")
        t1 = time.monotonic()
        check(t1 - t0 >= 1.5, "I: the second event after the interval "
              "(%.2f s)" % (t1 - t0))
        # J meanwhile: frank's second message is held, and he comes back.
        a.publish("im/u/frank", b"f1", qos=1, mid=7)
        a.publish("im/u/frank", b"f2", qos=1, mid=8)
        wait_for(lambda: len(of(hook, "frank")) >= 1, timeout=5.0,
                 what="J: frank's first event")
        frank = raw.Client(b.port, version=V5)
        frank.connect("frank", clean=False, properties=EXPIRY)
        check_eq([frank.recv_publish(timeout=5.0).payload for _ in
                  range(2)], [b"f1", b"f2"], "J: frank gets both")
        time.sleep(3.0)
        check_eq([e["queued"] for e in of(hook, "frank")], [1],
                 "J: no event held for frank after he came back")
        ev = of(hook, "bob")
        check_eq([e["queued"] for e in ev], [1, 5],
                 "I: two events for 5 messages: queued 1, then 5")
        # K. The interval of bob's last event is over.
        a.publish("im/u/bob", b"later", qos=1, mid=9)
        wait_for(lambda: len(of(hook, "bob")) >= 3, timeout=5.0,
                 what="K: bob's next event at once")
        check_eq(of(hook, "bob")[2]["queued"], 6, "K: queued 6")
        bob = raw.Client(b.port, version=V5)
        bob.connect("bob", clean=False, properties=EXPIRY)
        mids = [mid_of(bob.recv_publish(timeout=5.0)) for _ in range(6)]
        ev = of(hook, "bob")
        check_eq([e["message_id"] for e in ev], [mids[0], mids[4], mids[5]],
                 "I, K: the events name the first, the fifth and the "
                 "sixth message")
        bob.disconnect()
        frank.disconnect()
        a.disconnect()
        b.check_log_clean()


main(test)
