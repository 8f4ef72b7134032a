#!/usr/bin/env python3
"""GET /api/v1/retained lists the retained messages (topic, size, qos,
expiry; sorted by topic, paged, prefix= filters); DELETE
/api/v1/retained/<topic> (the topic as the rest of the path, '/' as is
or %2F, other bytes percent-encoded) clears one as an empty retained
message from a client would: a new subscriber gets nothing, a current
subscriber gets the empty message, it is still gone after a restart, and
in a 2-node cluster it is gone on the other node too. A topic with
nothing retained is 404, a wildcard 400."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import apiutil as api  # noqa: E402
from cluster import Cluster  # noqa: E402
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402


def retain(port, topics, qos=1, props=None):
    c = raw.Client(port, version=V5)
    c.connect("r-pub")
    for i, (t, payload) in enumerate(topics):
        c.publish(t, payload, qos=qos, retain=True, mid=i + 1,
                  properties=props)
    c.disconnect()


def retained_on(port, topic):
    """The payload retained on topic, as a new subscriber sees it (None:
    nothing)."""
    c = raw.Client(port, version=V5)
    c.connect("r-look")
    c.subscribe(topic, qos=1)
    try:
        return c.recv_publish(timeout=0.5).payload
    except AssertionError:
        return None
    finally:
        c.disconnect()


def user_topics(port, prefix="r/"):
    return [m["topic"] for m in api.walk(port, "retained?prefix=" +
                                         api.enc(prefix), 2)]


def topics_now(port, prefix):
    """user_topics while the cluster still changes them: a walk whose
    pages saw the total change (a delete arriving between two pages)
    is "not yet", not a failure (wait_for asks again)."""
    try:
        return user_topics(port, prefix)
    except TestFailure:
        return None


def test():
    tern_only("the admin API")
    odd = "r/sp ace/é/%"
    with Broker(conf=api.conf()) as b:
        p = b.http_port
        retain(b.port, [("r/a", b"1"), ("r/b/c", b"22"), (odd, b"333"),
                        ("q/x", b"4444")])
        retain(b.port, [("r/exp", b"e")], qos=0,
               props={"message_expiry_interval": 600})
        check_eq(user_topics(p), ["r/a", "r/b/c", "r/exp", odd],
                 "r/ topics, by topic")
        items = {m["topic"]: m for m in api.walk(p, "retained", 3)}
        check("q/x" in items, "the whole list has q/x")
        check_eq((items["r/b/c"]["size"], items["r/b/c"]["qos"],
                  items["r/b/c"]["expiry"]), (2, 1, None), "r/b/c")
        check(0 < items["r/exp"]["expiry"] <= 600, "r/exp expiry %r"
              % items["r/exp"]["expiry"])
        check_eq(items[odd]["size"], 3, "odd topic")

        sub = raw.Client(b.port, version=V5)
        sub.connect("r-sub")
        sub.subscribe("r/b/#", qos=1)
        check_eq(sub.recv_publish(timeout=5.0).payload, b"22", "retained")
        check_eq(api.delete(p, "retained/r/b/c"), {"deleted": "r/b/c"},
                 "delete answer")
        m = sub.recv_publish(timeout=5.0)
        check_eq((m.topic, m.payload), ("r/b/c", b""),
                 "a subscriber gets the clear")
        sub.disconnect()
        api.delete(p, "retained/" + api.enc(odd))
        api.delete(p, "retained/r%2Fa")
        api.delete(p, "retained/r/a", want=404)
        api.delete(p, "retained/r/%2B", want=400)
        api.delete(p, "retained/r/%23", want=400)
        check_eq(user_topics(p), ["r/exp"], "what is left")
        check_eq(retained_on(b.port, "r/b/c"), None, "r/b/c cleared")

        b.restart()
        p = b.http_port
        check_eq(user_topics(p), ["r/exp"], "after a restart")
        check_eq(retained_on(b.port, "r/a"), None, "r/a still cleared")
        check_eq(retained_on(b.port, "q/x"), b"4444", "q/x kept")

    with Cluster(2, conf=api.conf()) as c:
        retain(c[0].port, [("rc/1", b"one"), ("rc/2", b"two")])
        wait_for(lambda: topics_now(c[1].http_port, "rc/") ==
                 ["rc/1", "rc/2"], 10.0, "n2 holds n1's retained messages")
        api.delete(c[1].http_port, "retained/rc/1")
        wait_for(lambda: topics_now(c[0].http_port, "rc/") == ["rc/2"],
                 10.0, "n1 lost rc/1 too")
        check_eq(retained_on(c[0].port, "rc/1"), None, "rc/1 gone on n1")
        check_eq(retained_on(c[0].port, "rc/2"), b"two", "rc/2 on n1")
        c.restart(0)
        check_eq(user_topics(c[0].http_port, "rc/"), ["rc/2"],
                 "n1 after a restart")


main(test)
