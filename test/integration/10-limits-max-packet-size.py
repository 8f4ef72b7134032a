#!/usr/bin/env python3
"""max_packet_size 1000: a v5 CONNACK announces Maximum Packet Size
1000; a packet just below the limit passes; a larger one gets DISCONNECT
0x95 (v5) and the connection is closed (3.1.1 too); others keep
working."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

LIMIT = 1000


def publish_of_size(topic, size, version):
    """A QoS 0 PUBLISH packet of exactly size bytes in total."""
    overhead = len(raw.publish(topic, b"", version=version))
    n = size - overhead
    pkt = raw.publish(topic, b"x" * n, version=version)
    # the remaining length may have grown by one byte
    while len(pkt) > size:
        n -= 1
        pkt = raw.publish(topic, b"x" * n, version=version)
    return pkt


def test():
    with Broker(conf=["max_packet_size %d" % LIMIT]) as b:
        by = Bystander(b.port)
        for version in (V311, V5):
            c = raw.Client(b.port, version=version)
            ack = c.connect("mps-ok-%d" % version)
            if version == V5:
                check_eq(ack.props.get("maximum_packet_size"), LIMIT,
                         "CONNACK Maximum Packet Size")
            c.subscribe("mps/t", qos=0)
            c.send(publish_of_size("mps/t", LIMIT, version))
            m = c.recv_publish(timeout=3.0)
            check(len(m.payload) > LIMIT - 20, "large message delivered")
            c.disconnect()

            # mosquitto 2.0.11 does not count the remaining-length bytes
            over = LIMIT + (3 if is_mosquitto() else 1)
            pkt = publish_of_size("mps/t", over, version)
            check_eq(len(pkt), over, "test packet size")
            expect_rejected(b.port, pkt, version=version,
                            disconnect_rc=raw.RC_PACKET_TOO_LARGE,
                            what="PUBLISH of %d bytes" % len(pkt))
            by.check()
            expect_rejected(b.port, raw.publish("mps/t", b"y" * 100000,
                                                version=version),
                            version=version,
                            disconnect_rc=raw.RC_PACKET_TOO_LARGE,
                            what="PUBLISH of 100 kB")
            by.check()
        by.close()


main(test)
