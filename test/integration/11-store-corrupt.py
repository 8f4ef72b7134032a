#!/usr/bin/env python3
"""A database ternd cannot trust stops start-up and is never modified:
tern.db overwritten with garbage, cut short (truncated), or an SQLite
database of another application: ternd exits with status 1 (within a
bounded time, without writing its ready file) and says on stderr which
file; tern.db is left byte for byte unchanged. The intact database put
back, ternd starts and the session and its queued messages are there."""
import os
import sqlite3
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from storeutil import *  # noqa: E402,F401,F403

N = 40


def foreign_db(path):
    db = sqlite3.connect(path)
    db.execute("create table notes (id integer primary key, body text)")
    db.executemany("insert into notes (body) values (?)",
                   [("note %d " % i * 50,) for i in range(200)])
    db.commit()
    db.close()


def refused(b, what):
    """Start ternd on b's data dir: it must exit 1 naming tern.db, and
    leave tern.db unchanged."""
    path = db_path(b)
    before = sha256(path)
    size = os.path.getsize(path)
    r = run_ternd(b.cmd[1:], timeout=10.0)
    log("%s: exit %r, stderr: %s" % (what, r.rc, r.err.strip()))
    check_eq(r.rc, 1, "%s: exit status of ternd" % what)
    check("tern.db" in r.err, "%s: stderr names the database: %r"
          % (what, r.err))
    check(not os.path.exists(b.ready_path()), "%s: no ready file" % what)
    check_eq((os.path.getsize(path), sha256(path)), (size, before),
             "%s: tern.db (size, sha256) after the refusal" % what)


def test():
    store_only()
    b = Broker()
    sub = Receiver(b.port, "corrupt-sub", version=V311)
    sub.connect(clean=False, expect_present=0)
    sub.subscribe([("corrupt/t", 1)])
    sub.disconnect()
    pub = Publisher(b.port, "corrupt-pub", version=V5)
    want = pub.publish_acked("corrupt/t", payloads("m", N, size=1000))
    pub.close()
    b.stop()
    log("data dir after stop: %r" % data_files(b))
    path = db_path(b)
    with open(path, "rb") as f:
        good = f.read()
    check(len(good) >= 8192, "tern.db holds the messages (%d bytes)"
          % len(good))

    with open(path, "wb") as f:
        f.write(b"this is not a database\n" * 500)
    refused(b, "garbage")

    with open(path, "wb") as f:
        f.write(good[:len(good) // 2 + 100])
    refused(b, "truncated")

    with open(path, "wb") as f:
        f.write(good[:4096 * (len(good) // 8192)])
    refused(b, "truncated at a page boundary")

    os.unlink(path)
    foreign_db(path)
    refused(b, "foreign SQLite database")

    with open(path, "wb") as f:
        f.write(good)
    b.start()
    sub.port = b.port
    sub.connect(clean=False, expect_present=1)
    got = sub.receive_n(N)
    check_in_order_once([d[1] for d in got], want,
                        "queued messages in the intact database")
    sub.end_session()
    b.stop()


main(test)
