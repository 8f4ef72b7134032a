#!/usr/bin/env python3
"""MQTT 5 properties round-trip from tern-pub to tern-sub through ternd:
user properties (order and repeats kept), content type, response topic,
correlation data (text, and binary shown as hex), message expiry,
payload format indicator, and the subscription identifier that tern-sub
asked for, in --json output. Also -v, --hex and -F output formats, and
--json for MQTT 3.1.1 (no "properties")."""
import json
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import Broker, check, check_eq, main, tmp_path  # noqa: E402
from clients import TernSub, tern_pub  # noqa: E402


def test():
    with Broker() as b:
        with TernSub(b.port, "p5/#", version=5, qos=1,
                     args=["-C", "2", "-W", "10", "--json",
                           "--sub-id", "42"]) as s:
            s.wait_ready()
            tern_pub(b.port, ["-t", "p5/a", "-q", "1",
                              "-m", 'caf\u00e9 "quoted"\n',
                              "-e", "120", "--content-type", "text/plain",
                              "--response-topic", "im/u/alice/reply",
                              "--correlation-data", "req-17",
                              "--prop", "app=chat", "--prop", "k=v1",
                              "-D", "publish", "user-property", "k", "v2",
                              "-D", "publish", "payload-format-indicator",
                              "1"], version=5)
            binfile = tmp_path("bin")
            with open(binfile, "wb") as f:
                f.write(b"\xff\x00\x01")
            tern_pub(b.port, ["-t", "p5/b", "-q", "1", "-f", binfile,
                              "-D", "publish", "correlation-data",
                              "\u00e9"], version=5)
            check_eq(s.finish(), 0, "tern-sub exit status")
            a, bm = [json.loads(line) for line in s.lines()]

        check_eq((a["topic"], a["qos"], a["retain"], a["payload"]),
                 ("p5/a", 1, False, 'caf\u00e9 "quoted"\n'), "message a")
        pa = a["properties"]
        check_eq(pa["user_properties"],
                 [["app", "chat"], ["k", "v1"], ["k", "v2"]],
                 "user properties")
        check_eq(pa["content_type"], "text/plain", "content type")
        check_eq(pa["response_topic"], "im/u/alice/reply", "response topic")
        check_eq(pa["correlation_data"], "req-17", "correlation data")
        check_eq(pa["payload_format_indicator"], 1, "payload format")
        check(0 < pa["message_expiry_interval"] <= 120,
              "message expiry %r" % pa["message_expiry_interval"])
        check_eq(pa["subscription_identifiers"], [42], "subscription id")

        check_eq(bm["payload_hex"], "ff0001", "binary payload as hex")
        check("payload" not in bm, "no text payload for binary")
        check_eq(bm["properties"]["correlation_data"], "\u00e9",
                 "UTF-8 correlation data")
        check("message_expiry_interval" not in bm["properties"],
              "no expiry when none was set")

        # the other formats, both versions
        for version in (4, 5):
            t = "fmt/v%d" % version
            for args, want in (
                    (["-v"], "%s hi there" % t),
                    (["--hex"], "6869207468657265"),
                    (["-v", "--hex"], "%s 6869207468657265" % t),
                    (["-F", "%t|%p|%x|%q|%r|%l"],
                     "%s|hi there|6869207468657265|1|0|8" % t),
                    (["-F", "json"], None)):
                with TernSub(b.port, t, version=version, qos=1,
                             args=["-C", "1", "-W", "10"] + args) as s:
                    s.wait_ready()
                    tern_pub(b.port, ["-t", t, "-q", "1", "-m", "hi there"],
                             version=version)
                    check_eq(s.finish(), 0, "exit status %r" % args)
                    if want is not None:
                        check_eq(s.lines(), [want], "output of %r (v%d)"
                                 % (args, version))
                    else:
                        o = json.loads(s.lines()[0])
                        check_eq(o["payload"], "hi there", "json payload")
                        check_eq("properties" in o, version == 5,
                                 "properties only in MQTT 5 (v%d)"
                                 % version)
            # -N: no newline
            with TernSub(b.port, t, version=version, qos=1,
                         args=["-C", "2", "-W", "10", "-N"]) as s:
                s.wait_ready()
                tern_pub(b.port, ["-t", t, "-q", "1", "-l"],
                         version=version, input="x\ny\n")
                check_eq(s.finish(), 0, "-N exit status")
                check_eq(s.out(), "xy", "-N output")


main(test)
