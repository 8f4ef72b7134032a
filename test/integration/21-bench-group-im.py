#!/usr/bin/env python3
"""tern-bench's IM group (reconnect --group) and durable IM (p2p --offline)
against a real ternd, counts only (no time or rate is asserted: the
machine is shared):

- a group of 50 offline persistent members gets 20 QoS 1 messages: every
  member resumes and gets all 20 once (1,000 copies), and the queueing
  and resume figures are reported; the same over 5 groups from 2
  publishers;
- 40 users, half of them offline at any time on a 1 s cycle: nothing is
  lost or duplicated, every message sent to an offline user arrives after
  it came back, and the online latency is reported;
- against a ternd whose offline queues hold one message, both scenarios
  report the loss (lost > 0, exit status 3): the scenarios can fail."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import Broker, check, check_eq, main, tern_only  # noqa: E402
from benchutil import bench, check_counts  # noqa: E402

GROUP = ("reconnect", "--group", "-K", 50, "-n", 20, "-q", 1)
IM = ("p2p", "-U", 40, "-r", 5, "-q", 1, "--offline", 0.5, "--cycle", 1,
      "-d", 3)


def check_group(d, what, members, groups, count):
    check_eq(d["groups"], groups, what + ": groups")
    check_eq(d["sessions"], members, what + ": members")
    check_eq(d["sent"], count * groups, what + ": group messages sent")
    check_eq(d["expected"], members * count, what + ": copies expected")
    check_eq(d["rows"], members * count, what + ": rows")
    check_eq(d["sessions_present"], members, what + ": sessions present")
    check_eq(d["sessions_complete"], members,
             what + ": every member got every message")
    check_counts(d, what)
    for k in ("queue_rate", "rows_rate", "reconnect_ms", "session_p99_ms"):
        check(d.get(k, 0) > 0, "%s: %s reported (%r)" % (what, k, d.get(k)))


def check_im(d, what):
    check_counts(d, what)
    check_eq(d["users_offline"], 20, what + ": users offline at a time")
    check(d["departures"] > 0, what + ": users went offline")
    check_eq(d["resumes"], d["departures"], what + ": every user came back")
    check_eq(d["resumes_present"], d["resumes"],
             what + ": resumed with session present")
    check(d["sent_offline"] > 0, what + ": messages to offline users")
    check_eq(d["recv_offline"], d["sent_offline"],
             what + ": all of them received after the return")
    check_eq(d["lost_offline"], 0, what + ": lost_offline")
    check(d["online_samples"] > 0, what + ": online samples")
    for k in ("lat_online_p50_us", "lat_online_p99_us", "lat_online_max_us"):
        check(d.get(k, 0) > 0, "%s: %s reported (%r)" % (what, k, d.get(k)))


def test():
    tern_only("asserts tern's delivery counts")
    with Broker(["log_level warning"]) as b:
        check_group(bench(b.port, *GROUP), "group 50 x 20", 50, 1, 20)
        check_group(bench(b.port, "reconnect", "--groups", 5, "-P", 2,
                          "-K", 50, "-n", 10, "-q", 1),
                    "5 groups of 10 x 10", 50, 5, 10)
        check_im(bench(b.port, *IM), "im 40 users")
    # Queues of one message: the scenarios must see what was dropped.
    with Broker(["log_level warning", "max_queued_messages 1"],
                name="small-queue") as b:
        d = bench(b.port, *GROUP, rc=3)
        check(d["lost"] > 0, "small queue, group: loss reported (%d)"
              % d["lost"])
        check(d["sessions_complete"] < 50,
              "small queue, group: incomplete members reported")
        d = bench(b.port, "p2p", "-U", 40, "-r", 10, "-q", 1, "--offline",
                  0.5, "--cycle", 2, "-d", 3, rc=3)
        check(d["lost"] > 0 and d["lost_offline"] > 0,
              "small queue, im: loss reported (%d, offline %d)"
              % (d["lost"], d["lost_offline"]))


main(test)
