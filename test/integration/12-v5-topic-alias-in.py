#!/usr/bin/env python3
"""MQTT 5 topic aliases from client to server (3.3.2.3.4): CONNACK
advertises Topic Alias Maximum 10 by default; a PUBLISH with topic and
alias sets the alias, later PUBLISHes with an empty topic and the alias
are delivered on the full topic; an alias can be re-mapped to another
topic; the highest alias (10) is accepted [MQTT-3.3.2-12]; subscribers
(v5 and 3.1.1) never see the client's aliases."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403


def test():
    with Broker() as b:
        s5 = raw.Client(b.port, version=V5)
        s5.connect("tai-sub5")
        s5.subscribe("tai/#", qos=1)
        s4 = raw.Client(b.port, version=V311)
        s4.connect("tai-sub4")
        s4.subscribe("tai/#", qos=1)

        p = raw.Client(b.port, version=V5)
        ack = p.connect("tai-pub")
        check_eq(ack.props.get("topic_alias_maximum"), 10,
                 "CONNACK Topic Alias Maximum (default)")
        sends = [("tai/a", 1, b"set-a"), ("", 1, b"use-a1"),
                 ("", 1, b"use-a2"), ("tai/b", 10, b"set-b"),
                 ("", 10, b"use-b"), ("tai/c", 1, b"remap-1-to-c"),
                 ("", 1, b"use-c"), ("", 10, b"use-b-again")]
        want = [("tai/a", b"set-a"), ("tai/a", b"use-a1"),
                ("tai/a", b"use-a2"), ("tai/b", b"set-b"),
                ("tai/b", b"use-b"), ("tai/c", b"remap-1-to-c"),
                ("tai/c", b"use-c"), ("tai/b", b"use-b-again")]
        for i, (topic, alias, payload) in enumerate(sends):
            qos = i % 3
            p.publish(topic, payload, qos=qos, mid=i + 1,
                      properties={"topic_alias": alias})
        for s, name in ((s5, "v5"), (s4, "3.1.1")):
            got = [s.recv_publish(timeout=3.0) for _ in want]
            check_eq([(m.topic, m.payload) for m in got], want,
                     "%s subscriber: topics and payloads" % name)
            for m in got:
                check("topic_alias" not in m.props, "%s subscriber got a "
                      "topic alias: %r" % (name, m))
            s.expect_none(0.2)
        p.ping()
        for c in (p, s5, s4):
            c.disconnect()


main(test)
