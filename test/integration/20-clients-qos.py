#!/usr/bin/env python3
"""tern-pub -l and tern-sub -C at QoS 0, 1 and 2, MQTT 3.1.1 and 5: every
line of stdin is one message, all arrive once, in order, at the QoS asked
for, and tern-pub waits for every PUBACK/PUBCOMP before it exits 0."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import Broker, check_eq, main  # noqa: E402
from clients import TernSub, tern_pub, check_no_sanitizer_report  # noqa: E402

N = 60


def test():
    with Broker() as b:
        for version in (4, 5):
            for qos in (0, 1, 2):
                topic = "cli/qos%d/v%d" % (qos, version)
                msgs = ["m%d-%d-%03d" % (version, qos, i) for i in range(N)]
                with TernSub(b.port, topic, version=version, qos=qos,
                             args=["-C", str(N), "-W", "20",
                                   "-F", "%q %t %p"]) as s:
                    s.wait_ready()
                    r = tern_pub(b.port, ["-t", topic, "-q", str(qos),
                                          "-l", "-d"], version=version,
                                 input="".join(m + "\n" for m in msgs))
                    check_no_sanitizer_report(r.err, "tern-pub")
                    check_eq(r.err.count("sending PUBLISH"), N,
                             "PUBLISHes sent (v%d q%d)" % (version, qos))
                    if qos:
                        ack = "received PUBACK" if qos == 1 else \
                            "received PUBCOMP"
                        check_eq(r.err.count(ack), N, "acks (v%d q%d)"
                                 % (version, qos))
                    check_eq(s.finish(), 0, "tern-sub exit status")
                    check_no_sanitizer_report(s.err(), "tern-sub")
                    check_eq(s.lines(),
                             ["%d %s %s" % (qos, topic, m) for m in msgs],
                             "messages at tern-sub (v%d q%d)"
                             % (version, qos))


main(test)
