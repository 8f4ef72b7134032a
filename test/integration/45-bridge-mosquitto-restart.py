#!/usr/bin/env python3
"""Nothing acknowledged is lost at QoS 1 while the remote or tern restart:
1. the remote (mosquitto, persistent) is killed (-9); 300 QoS 1 messages
   published on tern are acknowledged there; the remote comes back and its
   persistent subscriber gets all 300;
2. the remote is killed again, 300 more are acknowledged by tern, tern is
   killed (-9) and restarted while the remote is still down, then the
   remote comes back: all 300 arrive (the outgoing queue is in tern's
   store);
3. in: tern is killed, 300 are published on the remote (queued there for
   the bridge's persistent session), the remote is killed and restarted,
   tern is restarted: a persistent subscriber on tern gets all 300."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
from mosqutil import Remote, bridge_conf, wait_bridge_up  # noqa: E402

N = 300


def session(port, cid, topic):
    """Make a persistent QoS 1 session subscribed to topic, then leave."""
    run([MOSQUITTO_SUB, "-h", HOST, "-p", str(port), "-c", "-i", cid,
         "-q", "1", "-t", topic, "-E"], timeout=10, check_rc=0)


def drain(port, cid, topic, want, what):
    with Sub(port, topic, qos=1, count=len(want), client_id=cid,
             clean=False, wait_secs=30, name=cid) as s:
        s.wait_count(len(want), timeout=30)
        check_eq(s.finish(), 0, "mosquitto_sub exit status (%s)" % what)
        check_eq(sorted(s.payloads), sorted(want), what)


def lost(b, n):
    wait_for(lambda: b.log().count("bridge r: connection to") >= n, 15,
             "tern sees the remote gone (%d)" % n)


def test():
    tern_only("bridges to other brokers")
    with Remote(persistent=True) as r:
        conf = bridge_conf(r, "r", ["data/# out 1", "cmd/# in 1"])
        with Broker(conf=conf) as b:
            wait_bridge_up(b, "r")
            session(r.port, "rsub", "data/#")
            r.wait_saved()
            # 1. the remote away, tern takes and keeps the messages
            r.kill9()
            lost(b, 1)
            want = ["a%03d" % i for i in range(N)]
            pub(b.port, "data/x", want, qos=1, timeout=30)
            r.start()
            wait_bridge_up(b, "r", 2, timeout=15)
            drain(r.port, "rsub", "data/#", want, "after the remote "
                  "restarted")
            r.wait_saved()
            # 2. tern killed with its queue for the remote on disk
            r.kill9()
            lost(b, 2)
            want = ["b%03d" % i for i in range(N)]
            pub(b.port, "data/y", want, qos=1, timeout=30)
            b.restart(graceful=False)
            time.sleep(1)
            r.start()
            wait_bridge_up(b, "r", 3, timeout=15)
            drain(r.port, "rsub", "data/#", want, "after tern and the "
                  "remote restarted")
            # 3. in: the remote keeps what tern's bridge session missed
            session(b.port, "lsub", "cmd/#")
            b.kill9()
            want = ["c%03d" % i for i in range(N)]
            pub(r.port, "cmd/z", want, qos=1, timeout=30)
            r.wait_saved()
            r.kill9()
            r.start()
            b.start()
            wait_bridge_up(b, "r", 4, timeout=15)
            drain(b.port, "lsub", "cmd/#", want, "from the remote after "
                  "both restarted")


main(test)
