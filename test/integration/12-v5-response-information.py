#!/usr/bin/env python3
"""response_information "resp/base": CONNACK carries Response
Information when the CONNECT has Request Response Information 1
(3.1.2.11.7, 3.2.2.3.15), never otherwise [MQTT-3.1.2-28]; without the
setting there is none at all. (tern-only: no mosquitto setting.)"""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from v5util import *  # noqa: E402,F401,F403


def connack(port, cid, props):
    c = raw.Client(port, version=V5)
    ack = c.connect(cid, properties=props)
    c.disconnect()
    return ack.props


def test():
    with Broker(**broker_conf(["response_information resp/base"],
                              why="no response_information in "
                              "mosquitto")) as b:
        got = connack(b.port, "ri-1", {"request_response_information": 1})
        check_eq(got.get("response_information"), "resp/base",
                 "Response Information when requested")
        for cid, props in (("ri-0", {"request_response_information": 0}),
                           ("ri-absent", None)):
            got = connack(b.port, cid, props)
            check("response_information" not in got,
                  "%s: no Response Information: %r" % (cid, got))
        c = raw.Client(b.port, version=V311)
        check_eq(c.connect("ri-311").props, {}, "3.1.1 CONNACK")
        c.disconnect()
    with Broker() as b:
        got = connack(b.port, "ri-none", {"request_response_information": 1})
        check("response_information" not in got,
              "no response_information set: %r" % got)


main(test)
