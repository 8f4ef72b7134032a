#!/usr/bin/env python3
"""Error paths of tern-pub and tern-sub, each with its exit status and a
message naming the cause:
- nothing listening (connection refused), unknown host: exit 1;
- CONNECT refused by ternd (allow_zero_length_clientid false, -i ""):
  3.1.1 return code 2, MQTT 5 reason code 0x85 by name: exit 1;
- refusals from a scripted server: CONNACK 0x87 / return code 5, PUBACK
  0x87 and SUBACK 0x87 with a reason string, DISCONNECT 0x98 with a reason
  string in the middle of -l, Maximum QoS 1 against -q 2: exit 1;
- ternd shutting down under tern-sub: DISCONNECT 0x8B (MQTT 5; mosquitto
  sends none) or "lost" (3.1.1): exit 1;
- bad options: exit 2 with the usage line; --help: exit 0."""
import os
import socket
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import HOST, Broker, check, check_eq, is_mosquitto, main  # noqa: E402,E501
from clients import (FakeBroker, TernSub, tern_cmd, tern_pub,  # noqa: E402
                     check_no_sanitizer_report)


def closed_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def expect(r, rc, *texts):
    check_eq(r.rc, rc, "exit status of %s\nstderr: %s" % (r.cmd, r.err))
    for t in texts:
        check(t in r.err, "%r not in stderr of %s: %r" % (t, r.cmd, r.err))
    check_no_sanitizer_report(r.err, r.cmd[0])


def test():
    # nothing listening / unknown host
    port = closed_port()
    for prog in ("tern-pub", "tern-sub"):
        args = ["-h", HOST, "-p", str(port), "-t", "x"]
        if prog == "tern-pub":
            args += ["-m", "x"]
        expect(tern_cmd(prog, args), 1,
               "cannot connect to %s port %d: Connection refused"
               % (HOST, port))
    expect(tern_cmd("tern-pub", ["-h", "no-such-host.invalid", "-t", "x",
                                 "-m", "x"], timeout=30), 1,
           "cannot resolve host 'no-such-host.invalid'")

    # refused by ternd
    with Broker(conf=["allow_zero_length_clientid false"]) as b:
        expect(tern_pub(b.port, ["-t", "x", "-m", "x", "-i", ""],
                        check_rc=None), 1,
               "connection refused by %s port %d: identifier rejected "
               "(CONNACK return code 2)" % (HOST, b.port))
        # mosquitto 2.0.11 refuses an empty MQTT 5 id with 0x80
        expect(tern_pub(b.port, ["-t", "x", "-m", "x", "-i", ""],
                        version=5, check_rc=None), 1,
               "connection refused by %s port %d: %s" % (
                   HOST, b.port, "0x80 Unspecified error" if is_mosquitto()
                   else "0x85 Client Identifier not valid"))

    # refusals with reason codes and reason strings
    with FakeBroker(connack_rc=0x87) as f:
        expect(tern_pub(f.port, ["-t", "x", "-m", "x"], version=5,
                        check_rc=None), 1, "0x87 Not authorized")
    with FakeBroker(connack_rc=5) as f:
        expect(tern_pub(f.port, ["-t", "x", "-m", "x"], check_rc=None), 1,
               "not authorized (CONNACK return code 5)")
    with FakeBroker(puback_rc=0x87,
                    puback_props={"reason_string": "no writes here"}) as f:
        expect(tern_pub(f.port, ["-t", "ro/x", "-q", "1", "-m", "x"],
                        version=5, check_rc=None), 1,
               "publish to 'ro/x' failed: 0x87 Not authorized (broker: "
               "\"no writes here\")")
    with FakeBroker(suback_codes=[0x87],
                    suback_props={"reason_string": "not yours"}) as f:
        expect(tern_cmd("tern-sub", ["-h", HOST, "-p", str(f.port),
                                     "-V", "mqttv5", "-t", "im/u/bob"]), 1,
               "subscription to 'im/u/bob' refused: 0x87 Not authorized "
               "(broker: \"not yours\")")
    with FakeBroker(suback_codes=[0x80]) as f:
        expect(tern_cmd("tern-sub", ["-h", HOST, "-p", str(f.port),
                                     "-t", "im/u/bob"]), 1,
               "subscription to 'im/u/bob' refused (return code 0x80)")
    with FakeBroker(disconnect_after=2,
                    disconnect=(0x98, {"reason_string": "bye now"})) as f:
        expect(tern_pub(f.port, ["-t", "x", "-q", "1", "-l"], version=5,
                        input="1\n2\n3\n4\n", check_rc=None), 1,
               "disconnected by the broker: 0x98 Administrative action "
               "(broker: \"bye now\")")
    with FakeBroker(connack_props={"maximum_qos": 1}) as f:
        expect(tern_pub(f.port, ["-t", "x", "-q", "2", "-m", "x"],
                        version=5, check_rc=None), 1,
               "the broker accepts QoS 1 at most")
        check_eq(f.publishes(), [], "nothing published above Maximum QoS")

    # the broker goes away under tern-sub
    lost = "connection to %s port" % HOST
    for version, text in ((5, lost if is_mosquitto() else
                           "disconnected by the broker: 0x8B"),
                          (4, lost)):
        b = Broker(name="stopping-v%d" % version)
        with TernSub(b.port, "x", version=version, args=["-W", "30"]) as s:
            s.wait_ready()
            b.stop()
            rc = s.finish()
            check_eq(rc, 1, "tern-sub exit status when ternd stops (v%d)"
                     % version)
            check(text in s.err(), "%r in %r" % (text, s.err()))

    # usage errors: exit 2 and the usage line
    bad = [
        ("tern-pub", ["-t", "x", "-m", "x", "--bogus"], "unknown option"),
        ("tern-pub", ["-t", "x", "-m", "x", "-Z"], "unknown option '-Z'"),
        ("tern-pub", ["-t", "x", "-m", "x", "-q", "3"], "-q: '3'"),
        ("tern-pub", ["-m", "x"], "-t is required"),
        ("tern-pub", ["-t", "x"], "one of -m, -f, -l, -n or -s"),
        ("tern-pub", ["-t", "x", "-m", "x", "-l"], "only one of"),
        ("tern-pub", ["-t", "a/+", "-m", "x"], "not a valid topic"),
        ("tern-pub", ["-t", "x", "-m", "x", "-x", "60"],
         "-x needs MQTT 5"),
        ("tern-pub", ["-t", "x", "-m", "x", "-V", "6"],
         "unknown protocol version"),
        ("tern-pub", ["-t", "x", "-m", "x", "-p", "0"], "-p: '0'"),
        ("tern-pub", ["-t", "x", "-m", "x", "-V", "5", "-D", "publish",
                      "no-such-property", "1"], "unknown property"),
        ("tern-pub", ["-t", "x", "-m", "x", "-V", "5", "-D", "subscribe",
                      "user-property", "a", "b"], "unknown command"),
        ("tern-pub", ["-t", "x", "-m", "x", "-V", "5", "-e", "1", "-e",
                      "2"], "given twice"),
        ("tern-sub", ["-t", "x", "-c"], "-c needs a client id"),
        ("tern-sub", ["-t", "x", "-C"], "needs an argument"),
        ("tern-sub", ["-t", "x", "--no-local"], "--no-local needs MQTT 5"),
        ("tern-sub", ["-t", "x", "--json", "--hex"], "only one of"),
        ("tern-sub", ["-t", "x", "-V", "5", "--retain-handling", "3"],
         "--retain-handling: '3'"),
        ("tern-sub", ["-t", "x", "extra"], "unexpected argument"),
    ]
    for prog, args, text in bad:
        r = tern_cmd(prog, ["-p", str(port)] + args)
        expect(r, 2, text, "usage: %s" % prog)
        check_eq(r.out, "", "no stdout for a usage error")

    for prog, text in (("tern-pub", "--no-topic-alias"),
                       ("tern-sub", "--retain-handling")):
        r = tern_cmd(prog, ["--help"])
        check_eq(r.rc, 0, "%s --help exit status" % prog)
        check("usage: %s" % prog in r.out and text in r.out,
              "%s --help output: %r" % (prog, r.out))


main(test)
