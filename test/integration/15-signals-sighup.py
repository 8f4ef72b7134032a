#!/usr/bin/env python3
"""SIGHUP reopens the log file: after the file is renamed and SIGHUP
sent, new log lines go to a new file at the configured path; the broker
keeps serving."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
import signal  # noqa: E402


def test():
    tern_only("log file reopen")
    logfile = tmp_path("hup.log")
    with Broker(conf=["log_dest file %s" % logfile, "log_level debug"]) as b:
        c = raw.Client(b.port)
        c.connect("before-hup")
        c.disconnect()
        wait_for(lambda: os.path.exists(logfile) and
                 "before-hup" in open(logfile).read(), 5,
                 "first client in the log file")
        os.rename(logfile, logfile + ".1")
        b.signal(signal.SIGHUP)
        wait_for(lambda: os.path.exists(logfile), 5, "log file reopened")
        c = raw.Client(b.port)
        c.connect("after-hup")
        c.ping()
        c.disconnect()
        wait_for(lambda: "after-hup" in open(logfile).read(), 5,
                 "new client in the new log file")
        check("after-hup" not in open(logfile + ".1").read(),
              "old file no longer written")
        check(b.alive(), "broker alive after SIGHUP")


main(test)
