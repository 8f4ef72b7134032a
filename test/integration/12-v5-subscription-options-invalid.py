#!/usr/bin/env python3
"""MQTT 5 invalid subscription options: No Local on a shared
subscription [MQTT-3.8.3-4] and Retain Handling 3 are Protocol Errors,
reserved bits 6-7 set is a Malformed Packet [MQTT-3.8.3-5]: the server
closes the connection (DISCONNECT 0x82 / 0x81 or 0x82) and other
clients keep working. (mosquitto 2.0.11 grants No Local on a shared
subscription: that case is ternd only.)"""
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
            ("No Local on a shared subscription",
             ("$share/g/soi/t", 1 | NO_LOCAL), (raw.RC_PROTOCOL_ERROR,)),
            ("Retain Handling 3", ("soi/t", 1 | 0x30),
             (raw.RC_PROTOCOL_ERROR, raw.RC_MALFORMED)),
            ("reserved option bit 6", ("soi/t", 1 | 0x40),
             (raw.RC_MALFORMED, raw.RC_PROTOCOL_ERROR)),
            ("reserved option bit 7", ("soi/t", 1 | 0x80),
             (raw.RC_MALFORMED, raw.RC_PROTOCOL_ERROR)),
        ]
        if is_mosquitto():
            # mosquitto 2.0.11 grants No Local on a shared subscription:
            # that case is checked against ternd only
            cases = cases[1:]
        for i, (what, filt, rcs) in enumerate(cases):
            got = expect_rejected(b.port, raw.subscribe(1, [filt],
                                                        version=V5),
                                  version=5, allowed_rc=rcs, what=what,
                                  client_id="soi-%d" % i)
            discs = [p for p in got if p.type == raw.DISCONNECT]
            if not is_mosquitto():
                check(discs, "%s: ternd sends a DISCONNECT" % what)
            by.check()
        by.close()


main(test)
