#!/usr/bin/env python3
"""One client with 20,000 subscriptions (SUBSCRIBE packets of 500
filters, sent back to back) then unsubscribing every other one: the
broker answers every SUBACK and UNSUBACK with the right codes, another
client's PINGREQ is answered meanwhile (the work per filter no longer
grows with the number of subscriptions of the session), and the
subscriptions left still match while the removed ones do not; replacing
one of them updates it in place. (20,000 is past the default
max_subscriptions_per_client, which is raised to it here.)"""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401

TOTAL = 20000
PER = 500
RC_NO_SUBSCRIPTION_EXISTED = 0x11


def flt(i):
    return "f/%08d" % i


def read_acks(c, ptype, mids, timeout):
    """Read the acks of type ptype for mids (in order); returns
    {mid: codes}. Fails on anything else."""
    out = {}
    deadline = time.monotonic() + timeout
    for mid in mids:
        left = max(0.1, deadline - time.monotonic())
        p = c.expect(ptype, timeout=left,
                     what="%s %d of %d" % (raw.NAMES[ptype], len(out) + 1,
                                           len(mids)))
        check_eq(p.mid, mid, "%s packet id (in order)" % raw.NAMES[ptype])
        out[mid] = p.codes
    return out


def ping_meanwhile(port, what):
    """A second client connects and pings while the hog's packets are
    being handled; the PINGRESP must come (bounded wait)."""
    o = raw.Client(port, version=V311, timeout=10.0)
    o.connect("many-other-%s" % what)
    o.ping(timeout=10.0)
    o.disconnect()


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (None if unreadable)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test():
    conf = [] if is_mosquitto() else \
        ["max_subscriptions_per_client %d" % TOTAL]
    with Broker(conf=conf) as b:
        cpu0 = cpu_seconds(b.pid)
        c = raw.Client(b.port, version=V5, timeout=30.0)
        c.connect("many-subs")
        # all SUBSCRIBE packets at once: ~300 kB in, ~20 kB of SUBACK out
        data = b"".join(
            raw.subscribe(k + 1, [(flt(k * PER + i), 1) for i in range(PER)],
                          version=V5)
            for k in range(TOTAL // PER))
        c.sock.settimeout(30.0)
        c.sock.sendall(data)
        ping_meanwhile(b.port, "sub")
        acks = read_acks(c, raw.SUBACK, list(range(1, TOTAL // PER + 1)),
                         timeout=60.0)
        check_eq(len(acks), TOTAL // PER, "number of SUBACKs")
        codes = [x for mid in sorted(acks) for x in acks[mid]]
        check_eq(len(codes), TOTAL, "number of SUBACK codes")
        check_eq(sorted(set(codes)), [1], "every filter granted QoS 1")

        # unsubscribe the even ones, 500 per packet, plus one that was
        # never subscribed in the last packet
        evens = list(range(0, TOTAL, 2))
        packets = [evens[i:i + PER] for i in range(0, len(evens), PER)]
        base = 1000
        data = b"".join(
            raw.unsubscribe(base + k, [flt(i) for i in part] +
                            (["never/subscribed"] if k == len(packets) - 1
                             else []), version=V5)
            for k, part in enumerate(packets))
        c.sock.sendall(data)
        ping_meanwhile(b.port, "unsub")
        acks = read_acks(c, raw.UNSUBACK,
                         [base + k for k in range(len(packets))],
                         timeout=60.0)
        check_eq(len(acks), len(packets), "number of UNSUBACKs")
        codes = [x for mid in sorted(acks) for x in acks[mid]]
        check_eq(len(codes), TOTAL // 2 + 1, "number of UNSUBACK codes")
        check_eq(codes[-1], RC_NO_SUBSCRIPTION_EXISTED,
                 "UNSUBACK code of a filter never subscribed")
        check_eq(sorted(set(codes[:-1])), [0],
                 "every subscribed filter removed (0x00)")

        # what is left matches, what was removed does not
        p = raw.Client(b.port, version=V5)
        p.connect("many-pub")
        kept = [1, 3, 4999, 10001, TOTAL - 1]
        gone = [0, 2, 5000, TOTAL - 2]
        for i in gone + kept:
            p.publish(flt(i), b"%d" % i, qos=1, mid=(i % 60000) + 1)
        got = sorted(int(m.payload) for m in
                     [c.recv_publish(timeout=5.0) for _ in kept])
        check_eq(got, kept, "messages to the subscriptions left")
        c.expect_none(0.3)

        # the second UNSUBSCRIBE of a filter finds nothing
        ack = c.unsubscribe([flt(2), flt(3)], mid=7)
        check_eq(ack.codes, [RC_NO_SUBSCRIPTION_EXISTED, 0],
                 "UNSUBACK for a removed and a kept filter")
        # a kept subscription replaced (QoS 1 -> 0), one removed one back
        ack = c.subscribe([(flt(TOTAL - 1), 0), (flt(0), 1)], mid=8)
        check_eq(ack.codes, [0, 1], "SUBACK of the replacement")
        for i in (3, TOTAL - 1, 0, 2):
            p.publish(flt(i), b"%d" % i, qos=1, mid=i % 60000 + 1)
        got = sorted((int(m.payload), m.qos) for m in
                     [c.recv_publish(timeout=5.0) for _ in range(2)])
        check_eq(got, [(0, 1), (TOTAL - 1, 0)],
                 "replaced and re-added subscriptions match once")
        c.expect_none(0.3)
        p.disconnect()
        c.disconnect()
        ping_meanwhile(b.port, "end")
        cpu1 = cpu_seconds(b.pid)
        if cpu0 is not None and cpu1 is not None:
            # for information only: no assertion on time
            log("broker CPU time for the whole test: %.2fs" % (cpu1 - cpu0))


main(test)
