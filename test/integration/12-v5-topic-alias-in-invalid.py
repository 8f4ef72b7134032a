#!/usr/bin/env python3
"""MQTT 5 invalid client topic aliases: alias 0 [MQTT-3.3.2-8] and an
alias above the server's Topic Alias Maximum [MQTT-3.3.2-9] get
DISCONNECT 0x94 (Topic Alias invalid); an empty topic with an alias
that was never set is a Protocol Error (DISCONNECT 0x82); other clients
keep working."""
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
        by = Bystander(b.port, version=5)
        cases = [
            # alias 0: 0x94 is tern's contract; mosquitto 2.0.11 says 0x81
            ("alias 0", [("tai/x", 0)], RC_TOPIC_ALIAS_INVALID, 0x81),
            ("alias 11 > maximum 10", [("tai/x", 11)],
             RC_TOPIC_ALIAS_INVALID),
            ("alias 65535", [("tai/x", 65535)], RC_TOPIC_ALIAS_INVALID),
            ("empty topic, alias 3 never set", [("", 3)],
             raw.RC_PROTOCOL_ERROR),
            ("empty topic, alias 2 set to another alias", [("tai/x", 1),
                                                           ("", 2)],
             raw.RC_PROTOCOL_ERROR),
            ("empty topic, no alias", [("", None)], raw.RC_PROTOCOL_ERROR),
        ]
        for i, case in enumerate(cases):
            what, pubs, rc = case[:3]
            mosq_rc = case[3] if len(case) > 3 else None
            c = raw.Client(b.port, version=V5)
            c.connect("tai-bad-%d" % i)
            for topic, alias in pubs:
                props = {"topic_alias": alias} if alias is not None else None
                c.send(raw.publish(topic, b"x", qos=1, mid=7,
                                   version=V5, properties=props))
            # a valid first PUBLISH is acknowledged before the bad one
            if len(pubs) > 1:
                a = c.expect(raw.PUBACK, what=what)
                check_eq(a.mid, 7, "%s: PUBACK for the valid PUBLISH"
                         % what)
            expect_server_disconnect(c, rc, what, mosq_rc=mosq_rc)
            by.check()
        by.close()


main(test)
