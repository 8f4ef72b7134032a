#!/usr/bin/env python3
"""tern-pub -l uses a topic alias only when the server allows it:
- a server whose CONNACK has Topic Alias Maximum 10 gets the topic once
  with Topic Alias 1, then empty topics with alias 1;
- --no-topic-alias, MQTT 3.1.1, and a CONNACK without Topic Alias
  Maximum (as ternd's) get the full topic and no alias every time;
- against ternd every line of -l arrives and tern-pub exits 0, with an
  alias exactly when ternd's CONNACK allows one (a ternd that advertises
  no Topic Alias Maximum refuses an alias with DISCONNECT 0x94);
- tern-sub -D connect topic-alias-maximum prints full topics whether or
  not the broker sends aliases (it resolves them itself)."""
import os
import re
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import Broker, check, check_eq, log, main, wait_for  # noqa: E402
from clients import FakeBroker, TernSub, tern_pub  # noqa: E402

LINES = ["one", "two", "three", "four"]
INPUT = "".join(x + "\n" for x in LINES)


def published(props, args, version=5):
    with FakeBroker(connack_props=props) as f:
        tern_pub(f.port, ["-t", "alias/t", "-q", "1", "-l"] + args,
                 version=version, input=INPUT)
        wait_for(lambda: len(f.publishes()) == len(LINES), 3,
                 "%d PUBLISHes at the fake server" % len(LINES))
        return [(p.topic, p.props.get("topic_alias"), p.payload)
                for p in f.publishes()]


def test():
    got = published({"topic_alias_maximum": 10}, [])
    check_eq(got, [("alias/t", 1, b"one")] +
             [("", 1, x.encode()) for x in LINES[1:]],
             "alias allowed by the server")

    full = [("alias/t", None, x.encode()) for x in LINES]
    check_eq(published({"topic_alias_maximum": 10}, ["--no-topic-alias"]),
             full, "--no-topic-alias")
    check_eq(published(None, []), full, "no Topic Alias Maximum")
    check_eq(published({"topic_alias_maximum": 0}, []), full,
             "Topic Alias Maximum 0")
    check_eq(published({"topic_alias_maximum": 10}, [], version=4), full,
             "MQTT 3.1.1")

    with Broker() as b:
        n = 30
        msgs = ["line-%d" % i for i in range(n)]
        with TernSub(b.port, "alias/real", version=5, qos=1,
                     args=["-C", str(n), "-W", "10"]) as s:
            s.wait_ready()
            r = tern_pub(b.port, ["-t", "alias/real", "-q", "1", "-l",
                                  "-d"], version=5,
                         input="".join(m + "\n" for m in msgs))
            # whether the broker allows aliases is its choice (ternd:
            # topic_alias_maximum); tern-pub must follow its CONNACK
            m = re.search(r"topic alias maximum (\d+)", r.err)
            check(m is not None, "CONNACK line in -d output: %r" % r.err)
            check_eq(r.err.count("topic alias 1"),
                     n if int(m.group(1)) >= 1 else 0,
                     "PUBLISHes with an alias (server maximum %s)"
                     % m.group(1))
            check_eq(s.finish(), 0, "tern-sub exit status")
            check_eq(s.lines(), msgs, "all lines delivered through ternd")

        # tern-sub allowing aliases (-D connect topic-alias-maximum):
        # whether the broker uses them is its choice; the printed topic
        # must be the full one either way
        with TernSub(b.port, "alias/#", version=5, qos=1,
                     args=["-C", "3", "-W", "10", "-v", "-D", "connect",
                           "topic-alias-maximum", "5"]) as s:
            s.wait_ready()
            tern_pub(b.port, ["-t", "alias/in", "-q", "1", "-l"],
                     version=5, input="x\ny\nz\n")
            check_eq(s.finish(), 0, "tern-sub exit status (aliases)")
            check_eq(s.lines(), ["alias/in x", "alias/in y", "alias/in z"],
                     "topics printed in full")
            log("broker used outbound topic aliases: %s"
                % ("'', " in s.err()))


main(test)
