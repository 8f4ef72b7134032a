#!/usr/bin/env python3
"""tern-pub message sources, MQTT 3.1.1 and 5: -m, -f (small and 300 KB
binary), -s (all of stdin, newlines kept), -n (empty message), -l (one
message per line, empty lines included); -f of a missing file exits 1
without connecting. tern-sub --json shows each payload exactly."""
import json
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import Broker, check, check_eq, main, tmp_path  # noqa: E402
from clients import TernSub, tern_pub  # noqa: E402


def payload(obj):
    if "payload_hex" in obj:
        return bytes.fromhex(obj["payload_hex"])
    return obj["payload"].encode()


def test():
    small = tmp_path("small.txt")
    with open(small, "wb") as f:
        f.write(b"line one\nline two\n")
    big = tmp_path("big.bin")
    big_data = bytes((i * 7) & 0xFF for i in range(300 * 1024))
    with open(big, "wb") as f:
        f.write(big_data)

    with Broker() as b:
        for version in (4, 5):
            t = "src/v%d" % version
            want = [("m", b"hello world"), ("f", b"line one\nline two\n"),
                    ("big", big_data), ("s", b"all\nof\nstdin\n"),
                    ("n", b""), ("l", b"a"), ("l", b""), ("l", b"b c")]
            with TernSub(b.port, t + "/#", version=version, qos=1,
                         args=["-C", str(len(want)), "-W", "20",
                               "--json"]) as s:
                s.wait_ready()
                tern_pub(b.port, ["-t", t + "/m", "-q", "1", "-m",
                                  "hello world"], version=version)
                tern_pub(b.port, ["-t", t + "/f", "-q", "1", "-f", small],
                         version=version)
                tern_pub(b.port, ["-t", t + "/big", "-q", "1", "-f", big],
                         version=version)
                tern_pub(b.port, ["-t", t + "/s", "-q", "1", "-s"],
                         version=version, input="all\nof\nstdin\n")
                tern_pub(b.port, ["-t", t + "/n", "-q", "1", "-n"],
                         version=version)
                tern_pub(b.port, ["-t", t + "/l", "-q", "1", "-l"],
                         version=version, input="a\n\nb c")
                check_eq(s.finish(), 0, "tern-sub exit status")
                got = [json.loads(line) for line in s.lines()]
                check_eq([(o["topic"], payload(o)) for o in got],
                         [(t + "/" + k, v) for k, v in want],
                         "payloads (v%d)" % version)

        before = b.log().count("new connection")
        r = tern_pub(b.port, ["-t", "src/x", "-f", tmp_path("missing")],
                     check_rc=1)
        check("cannot open" in r.err and "No such file" in r.err,
              "missing file message: %r" % r.err)
        if b.kind == "ternd":
            check_eq(b.log().count("new connection"), before,
                     "connections made for a missing file")


main(test)
