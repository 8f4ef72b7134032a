#!/usr/bin/env python3
"""The store's files hold every offline message: under umask 022 every
file ternd makes in its data directory (tern.db, tern.db-wal, its lock,
ternd.ready) is 0600, and a data directory ternd creates is 0700.

- A data directory that does not exist: created 0700; a QoS 1 message
  queued for an offline persistent session (so the WAL exists) leaves
  every file 0600.
- A data directory that exists with mode 0755: left as it is, with a
  warning in the log naming it and its mode; the files are 0600 all the
  same.
- Files left 0644 by an older ternd (tern.db, the WAL a kill -9 left,
  the lock file) are made 0600 at the next start, and the queued message
  is still delivered.
Before, tern.db and tern.db-wal were 0644 and ternd.ready 0644."""
import os
import stat
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402
from storeutil import store_only  # noqa: E402

EXPIRY = {"session_expiry_interval": 300}


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def queue_one(b, client_id, payload):
    """A persistent v5 session subscribed at QoS 1, offline, with one
    QoS 1 message queued (acknowledged, so committed to the WAL)."""
    s = raw.Client(b.port, version=V5)
    s.connect(client_id, clean=True, properties=EXPIRY)
    s.subscribe([("modes/%s" % client_id, 1)])
    s.disconnect()
    p = raw.Client(b.port, version=V5)
    p.connect(client_id + "-pub")
    check_eq(p.publish("modes/%s" % client_id, payload, qos=1).reason, 0,
             "PUBACK of the queued message")
    p.disconnect()


def check_files(b, what):
    """Every entry of the data dir is a regular file of mode 0600."""
    names = sorted(os.listdir(b.data_dir))
    log("%s: %s" % (what, ", ".join("%s %03o" % (n, mode(os.path.join(
        b.data_dir, n))) for n in names)))
    for want in ("tern.db", "tern.db-wal", "ternd.ready"):
        check(want in names, "%s: %s in the data dir" % (what, want))
    for n in names:
        p = os.path.join(b.data_dir, n)
        check(stat.S_ISREG(os.lstat(p).st_mode),
              "%s: %s is a regular file" % (what, n))
        check_eq("%03o" % mode(p), "600", "%s: mode of %s" % (what, n))


def test():
    store_only()
    os.umask(0o022)

    # a data directory ternd creates
    with Broker(start=False, name="fresh") as b:
        check(not os.path.exists(b.data_dir), "no data dir before start")
        b.start()
        queue_one(b, "fresh", b"m1")
        check_eq("%03o" % mode(b.data_dir), "700", "mode of a data dir "
                 "ternd created")
        check_files(b, "new data dir")

    # a data directory that exists, open to others
    with Broker(start=False, name="shared") as b:
        os.makedirs(b.data_dir, 0o755)
        check_eq("%03o" % mode(b.data_dir), "755", "mode made by the test")
        b.start()
        b.wait_log("data directory %s has mode 755" % b.data_dir)
        check_eq("%03o" % mode(b.data_dir), "755", "an existing data dir "
                 "is left as it is")
        queue_one(b, "shared", b"m2")
        check_files(b, "existing data dir")

        # what an older ternd left: everything 0644, and a WAL after a
        # crash
        b.kill9()
        left = sorted(os.listdir(b.data_dir))
        log("after kill -9: %s" % ", ".join(left))
        check("tern.db-wal" in left, "kill -9 leaves the WAL")
        for n in left:
            os.chmod(os.path.join(b.data_dir, n), 0o644)
        b.start()
        check_files(b, "files of an older ternd")
        r = raw.Client(b.port, version=V5)
        ack = r.connect("shared", clean=False, properties=EXPIRY)
        check_eq(ack.session_present, 1, "session present after the start")
        m = r.recv_publish(timeout=5.0)
        check_eq((m.topic, m.payload), ("modes/shared", b"m2"),
                 "the queued message after the files were made private")
        r.disconnect()


main(test)
