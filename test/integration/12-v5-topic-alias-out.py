#!/usr/bin/env python3
"""MQTT 5 topic aliases from server to client (3.3.2.3.4): a client whose
CONNECT has Topic Alias Maximum 2 gets aliases 1..2 only
[MQTT-3.3.2-11]; the first PUBLISH of a topic carries topic + alias,
later ones an empty topic + the alias; when both are taken the next
slot in turn is re-assigned (round robin) and the topic is sent again;
aliases do not survive a reconnection. A v5 client without Topic Alias
Maximum (raw and Paho), and a 3.1.1 client, never get an alias.
mosquitto 2.0.11 sends no aliases: there only the decoding is checked."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403

SEQ = ["a", "a", "b", "b", "a", "c", "c", "a", "b", "b", "c"]
# (topic sent, alias) expected with Topic Alias Maximum 2, round robin
WANT = [("tao/a", 1), ("", 1), ("tao/b", 2), ("", 2), ("", 1),
        ("tao/c", 1),           # both used: slot 1 re-assigned (a -> c)
        ("", 1), ("tao/a", 2),  # slot 2 next (b -> a)
        ("tao/b", 1),           # slot 1 next (c -> b)
        ("", 1), ("tao/c", 2)]  # slot 2 next (a -> c)


def test():
    with Broker() as b:
        al = raw.Client(b.port, version=V5)
        al.connect("tao-alias", properties={"topic_alias_maximum": 2})
        al.subscribe("tao/#", qos=1)
        plain = raw.Client(b.port, version=V5)
        plain.connect("tao-plain")
        plain.subscribe("tao/#", qos=1)
        old = raw.Client(b.port, version=V311)
        old.connect("tao-311")
        old.subscribe("tao/#", qos=1)
        pc = PahoClient(b.port, client_id="tao-paho", version=5)
        pc.connect()
        pc.subscribe("tao/#", qos=1)

        p = raw.Client(b.port, version=V5)
        p.connect("tao-pub")
        want_msgs = []
        for i, t in enumerate(SEQ):
            qos = i % 2
            p.publish("tao/" + t, b"m%d" % i, qos=qos, mid=i + 1)
            want_msgs.append(("tao/" + t, b"m%d" % i))

        dec = AliasDecoder(2)
        got = [al.recv_publish(timeout=3.0) for _ in SEQ]
        check_eq([(dec.topic(m), m.payload) for m in got], want_msgs,
                 "aliasing client: decoded topics")
        sent = [(m.topic, m.props.get("topic_alias")) for m in got]
        log("aliasing client received (topic, alias): %r" % sent)
        if not is_mosquitto():
            check_eq(sent, WANT, "topic/alias sequence (round robin)")

        for c, name in ((plain, "v5 without Topic Alias Maximum"),
                        (old, "3.1.1")):
            got = [c.recv_publish(timeout=3.0) for _ in SEQ]
            check_eq([(m.topic, m.payload) for m in got], want_msgs,
                     "%s: full topics" % name)
            check(all("topic_alias" not in m.props for m in got),
                  "%s: no alias" % name)
        got = pc.wait_count(len(SEQ))
        check_eq([(m[0], m[1]) for m in got], want_msgs,
                 "Paho v5 subscriber: full topics")

        # a new connection starts with no alias mapping
        al.disconnect()
        al = raw.Client(b.port, version=V5)
        al.connect("tao-alias", properties={"topic_alias_maximum": 2})
        al.subscribe("tao/#", qos=1)
        p.publish("tao/b", b"again", qos=1, mid=99)
        m = al.recv_publish(timeout=3.0)
        check_eq((m.topic, m.payload), ("tao/b", b"again"),
                 "first PUBLISH after reconnecting has the topic")
        check(m.props.get("topic_alias") in (None, 1, 2),
              "alias within the maximum: %r" % m)
        pc.disconnect()
        for c in (al, plain, old, p):
            c.disconnect()


main(test)
