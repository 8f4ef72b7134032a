#!/usr/bin/env python3
"""One ternd per data directory: a second ternd started on the data dir of
a running one (another port) exits with status 1 within a bounded time,
saying on stderr which database is in use; the first keeps its ready file
and keeps serving, and what it acknowledges afterwards survives kill -9."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from storeutil import *  # noqa: E402,F401,F403


def test():
    store_only()
    with Broker() as b:
        sub = Receiver(b.port, "locked-sub", version=V5)
        sub.connect(clean=False, expect_present=0)
        sub.subscribe([("locked/t", 2)])
        sub.disconnect()
        pub = Publisher(b.port, "locked-pub", version=V311)
        pub.publish_one("locked/t", b"before", qos=2)
        with open(b.ready_path()) as f:
            ready = f.read()

        conf2 = tmp_path("second.conf")
        with open(conf2, "w") as f:
            f.write("listener 0 127.0.0.1\nlog_level debug\n")
        r = run_ternd(["-c", conf2, "-d", b.data_dir], timeout=10.0)
        log("second ternd: exit %r, stderr: %s" % (r.rc, r.err.strip()))
        check_eq(r.rc, 1, "exit status of the second ternd")
        check("tern.db" in r.err, "stderr of the second ternd names the "
              "database: %r" % r.err)
        check(b.alive(), "the first ternd still runs")
        check(os.path.exists(b.ready_path()),
              "the first ternd's ready file is still there")
        with open(b.ready_path()) as f:
            check_eq(f.read(), ready, "the first ternd's ready file")

        pub.publish_one("locked/t", b"after", qos=2)
        crash(b)
        sub.connect(clean=False, expect_present=1)
        got = sub.receive_n(2)
        check_eq([d[1] for d in got], [b"before", b"after"],
                 "messages acknowledged by the first ternd")
        sub.wait_payload(b"after")
        sub.end_session()


main(test)
