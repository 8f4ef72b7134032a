#!/usr/bin/env python3
"""A node killed (kill -9) on a disk that then fills up does not start,
and says why: ternd exits with status 75 (EX_TEMPFAIL, see ternd(8))
within a bounded time, its log says "disk full" and names the data dir,
and it does not call the database corrupt. Once space is freed it starts
normally and every acknowledged message reaches its persistent
subscriber, once. The data dir is a small tmpfs that the test mounts
(root only; skipped otherwise)."""
import errno
import os
import subprocess
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from storeutil import *  # noqa: E402,F401,F403

N = 60


def fill(path):
    """Write path until the filesystem is full; returns bytes written."""
    n = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            while True:
                try:
                    n += os.write(fd, b"\0" * size)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return n


def test():
    store_only()
    if os.geteuid() != 0:
        raise Skip("mounting a tmpfs needs root")
    b = Broker(start=False)
    os.makedirs(b.data_dir, exist_ok=True)
    r = run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs",
             b.data_dir], timeout=10.0)
    if r.rc != 0:
        raise Skip("cannot mount a tmpfs: %s" % r.err.strip())
    filler = os.path.join(b.data_dir, "filler")
    try:
        b.start()
        sub = Receiver(b.port, "df-sub", version=V5)
        sub.connect(clean=False, expect_present=0)
        sub.subscribe([("df/t", 2)])
        sub.disconnect()
        pub = Publisher(b.port, "df-pub", version=V311)
        want = pub.publish_acked("df/t", payloads("m", N, size=2000),
                                 qos=1)
        check_eq(len(want), N, "messages acknowledged before the kill")
        pub.close()
        b.kill9()
        os.unlink(b.ready_path())  # the killed node's
        log("data dir after kill -9: %r" % data_files(b))
        log("filled %d bytes" % fill(filler))

        r = run_ternd(b.cmd[1:], timeout=15.0)
        log("start on a full disk: exit %r, stderr: %s"
            % (r.rc, r.err.strip()[-600:]))
        check_eq(r.rc, 75, "exit status of ternd on a full disk")
        check("disk full" in r.err and b.data_dir in r.err,
              "stderr says the disk is full and names the data dir: %r"
              % r.err[-600:])
        errors = [l for l in r.err.splitlines() if " error: " in l]
        check(errors and not any("corrupt" in l for l in errors),
              "the error lines do not call the database corrupt: %r"
              % errors)
        check(not os.path.exists(b.ready_path()), "no ready file")

        os.unlink(filler)
        b.start()
        sub.port = b.port
        sub.connect(clean=False, expect_present=1)
        sub.run_until(lambda r: len(r.payloads()) >= N, 10.0,
                      "the acknowledged messages after space was freed")
        check_in_order_once(sub.payloads(), want,
                            "persistent subscriber after the restart")
        sub.expect_quiet(0.2)
        sub.end_session()
        b.stop()
    finally:
        try:
            if b.alive():
                b.kill9()
        except Exception:
            pass
        try:
            os.unlink(filler)
        except OSError:
            pass
        subprocess.run(["umount", b.data_dir], timeout=10)


main(test)
