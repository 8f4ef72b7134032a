#!/usr/bin/env python3
"""Session expiry and message expiry across a restart (v5). A session
with a 2 s expiry, offline, is gone 3 s later (CONNACK session present 0)
both when ternd was down while it expired (restarted 3 s after a kill -9)
and when ternd was restarted at once (kill -9, restart) and the expiry
passed while it ran. A queued message with a 2 s expiry is not delivered
3 s later; one with a 100 s expiry is, with its remaining lifetime."""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from storeutil import *  # noqa: E402,F401,F403

SHORT = 2
WAIT = 3.0


def setup(b, phase, keeper):
    """A short-lived session and two queued messages for keeper; returns
    the monotonic time of the last of these."""
    r = Receiver(b.port, "exp-short-%d" % phase, version=V5, expiry=SHORT)
    r.connect(clean=False, expect_present=0)
    r.subscribe([("exp/t", 1)])
    r.disconnect()
    pub = Publisher(b.port, "exp-pub", version=V5)
    pub.publish_one("exp/t", b"short-%d" % phase, qos=1,
                    properties={"message_expiry_interval": SHORT})
    pub.publish_one("exp/t", b"long-%d" % phase, qos=1,
                    properties={"message_expiry_interval": 100})
    pub.close()
    return time.monotonic(), r


def sleep_until(t):
    d = t - time.monotonic()
    if d > 0:
        time.sleep(d)


def check_after(b, phase, r, keeper):
    ack = r.connect(clean=False)
    check_eq(ack.session_present, 0, "phase %d: session present of a "
             "session expired %.0f s after it ended" % (phase, WAIT))
    r.expect_quiet(0.2)
    r.end_session()
    keeper.connect(clean=False, expect_present=1)
    got = keeper.receive_n(1)
    check_eq(got[0][1], b"long-%d" % phase, "phase %d: first message "
             "(the expired one must not come)" % phase)
    exp = keeper.packets[-1].props.get("message_expiry_interval")
    check(exp is not None and 0 < exp <= 100 - WAIT + 1,
          "phase %d: remaining message expiry interval %r" % (phase, exp))
    pub = Publisher(b.port, "exp-marker", version=V5)
    pub.publish_one("exp/t", b"marker-%d" % phase, qos=1)
    pub.close()
    keeper.wait_payload(b"marker-%d" % phase)
    check_eq(keeper.payloads()[-2:], [b"long-%d" % phase,
                                      b"marker-%d" % phase],
             "phase %d: deliveries" % phase)
    keeper.disconnect()


def test():
    store_only()
    with Broker() as b:
        keeper = Receiver(b.port, "exp-keeper", version=V5)
        keeper.connect(clean=False, expect_present=0)
        keeper.subscribe([("exp/t", 1)])
        keeper.disconnect()

        # 1: ternd is down while they expire
        t, r = setup(b, 1, keeper)
        b.kill9()
        sleep_until(t + WAIT)
        b.restart(graceful=False)
        check_after(b, 1, r, keeper)

        # 2: ternd restarted at once, they expire while it runs
        t, r = setup(b, 2, keeper)
        crash(b)
        sleep_until(t + WAIT)
        check_after(b, 2, r, keeper)
        keeper.end_session()


main(test)
