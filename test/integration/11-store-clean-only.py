#!/usr/bin/env python3
"""Messages whose subscribers all hold clean sessions never touch the
disk: after QoS 1/2 traffic to clean 3.1.1 and v5 subscribers (and a
kill -9, so nothing is checkpointed away), their payloads appear in no
file of the data dir and the store has no queue row or body for them,
while a message queued for an offline persistent session is there."""
import os
import shutil
import sqlite3
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from storeutil import *  # noqa: E402,F401,F403

N = 50
MARK = b"CLEAN-ONLY-7f3a"
KEEP = b"PERSISTENT-c41e"


def files_bytes(d):
    out = {}
    for n in sorted(os.listdir(d)):
        with open(os.path.join(d, n), "rb") as f:
            out[n] = f.read()
    return out


def test():
    store_only()
    with Broker() as b:
        keeper = Receiver(b.port, "co-keeper", version=V311)
        keeper.connect(clean=False, expect_present=0)
        keeper.subscribe([("co/keep", 1)])
        keeper.disconnect()

        subs = []
        for v in (V311, V5):
            r = Receiver(b.port, "co-clean-%d" % v, version=v, expiry=0)
            r.connect(clean=True)
            r.subscribe([("co/t", 2)])
            subs.append(r)
        pub = Publisher(b.port, "co-pub", version=V5)
        pl = [MARK + b"-%03d" % i for i in range(N)]
        pub.publish_acked("co/t", pl[:N // 2], qos=1)
        pub.publish_acked("co/t", pl[N // 2:], qos=2)
        for r in subs:
            got = r.receive_n(N)
            check_eq([d[1] for d in got], pl, "%s: messages"
                     % r.client_id)
        pub.publish_one("co/keep", KEEP, qos=1)
        b.kill9()

        files = files_bytes(b.data_dir)
        log("data dir after kill -9: %r"
            % dict((n, len(x)) for n, x in files.items()))
        check(any(KEEP in x for x in files.values()),
              "the persistent session's message is on disk")
        for n, x in files.items():
            check(MARK not in x, "a clean-session message is in %s" % n)

        copy = tmp_path("dbcopy")
        os.makedirs(copy)
        for n in files:
            if n.startswith("tern.db") and not n.endswith("-lock"):
                shutil.copy(os.path.join(b.data_dir, n), copy)
        db = sqlite3.connect(os.path.join(copy, "tern.db"))
        try:
            # The queue is the log plus the runs (store/sql_queue.c).
            queue = db.execute("select client_id, count(*) from "
                               "(select client_id from queue union all "
                               "select client_id from qlog) "
                               "group by client_id").fetchall()
            # A body lives in msgs, or in the one row that wants it.
            bodies = db.execute(
                "select (select count(*) from msgs) + "
                "(select count(*) from qlog where typeof(topic) != 'null')"
                " + (select count(*) from queue"
                " where typeof(topic) != 'null')").fetchone()[0]
        finally:
            db.close()
        check_eq([(bytes(c), n) for c, n in queue], [(b"co-keeper", 1)],
                 "queue rows per client in the store")
        check_eq(bodies, 1, "message bodies in the store")
        b.restart(graceful=False)
        keeper.port = b.port
        keeper.connect(clean=False, expect_present=1)
        check_eq(keeper.receive_n(1)[0][1], KEEP, "persistent message")
        keeper.end_session()


main(test)
