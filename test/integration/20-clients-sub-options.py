#!/usr/bin/env python3
"""tern-sub's MQTT 5 subscription options, end to end through ternd and
on the wire:
- --no-local: the session tern-sub leaves (-c -E) does not get messages
  its own client id publishes; without --no-local it does;
- --retain-handling 2: no retained message on subscribe; 0: sent;
- --retain-as-published: the retain flag of a live message is kept (1),
  without it the broker clears it (0);
- the SUBSCRIBE packet carries the option bits and --sub-id / --prop as
  properties (checked against a scripted server)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import Broker, check, check_eq, main  # noqa: E402
import mqttraw as raw  # noqa: E402
from clients import FakeBroker, TernSub, tern_pub  # noqa: E402


def own_message_back(port, cid, topic, extra):
    """tern-sub -c leaves a session for cid; cid then publishes to topic
    from a raw client resuming that session: returns what comes back."""
    with TernSub(port, topic, version=5, qos=1,
                 args=["-c", "-i", cid, "-E"] + extra) as s:
        check_eq(s.finish(), 0, "tern-sub -c -E %r" % extra)
    c = raw.Client(port, version=raw.V5)
    ack = c.connect(cid, clean=False,
                    properties={"session_expiry_interval": 0})
    check_eq(ack.session_present, 1, "session left by tern-sub -c")
    c.publish(topic, b"mine", qos=1)
    got = list(c.stash)
    c.stash = []
    if not got:
        try:
            got.append(c.recv_publish(timeout=0.5))
        except AssertionError:
            pass
    c.disconnect()
    return [p.payload for p in got]


def test():
    with Broker() as b:
        check_eq(own_message_back(b.port, "nl-1", "nl/a", ["--no-local"]),
                 [], "--no-local: own message not delivered")
        check_eq(own_message_back(b.port, "nl-2", "nl/b", []), [b"mine"],
                 "without --no-local: own message delivered")

        tern_pub(b.port, ["-t", "rh/t", "-q", "1", "-r", "-m", "old"],
                 version=5)
        with TernSub(b.port, "rh/t", version=5, qos=1,
                     args=["--retain-handling", "2", "-W", "1"]) as s:
            check_eq((s.finish(), s.lines()), (27, []),
                     "--retain-handling 2")
        with TernSub(b.port, "rh/t", version=5, qos=1,
                     args=["--retain-handling", "0", "-C", "1", "-W", "5",
                           "-F", "%r %p"]) as s:
            check_eq((s.finish(), s.lines()), (0, ["1 old"]),
                     "--retain-handling 0")

        for rap, want in ((True, "1 live"), (False, "0 live")):
            args = ["-C", "1", "-W", "5", "-F", "%r %p"]
            if rap:
                args.append("--retain-as-published")
            with TernSub(b.port, "rap/t", version=5, qos=1,
                         args=args) as s:
                s.wait_ready()
                tern_pub(b.port, ["-t", "rap/t", "-q", "1", "-r", "-m",
                                  "live"], version=5)
                check_eq((s.finish(), s.lines()), (0, [want]),
                         "retain as published %r" % rap)
            tern_pub(b.port, ["-t", "rap/t", "-r", "-n"], version=5)

    # the SUBSCRIBE on the wire
    with FakeBroker() as f:
        with TernSub(f.port, ["w/a", "w/b"], version=5, qos=2,
                     args=["--no-local", "--retain-as-published",
                           "--retain-handling", "1", "--sub-id", "9",
                           "--prop", "who=me", "-E"]) as s:
            check_eq(s.finish(), 0, "tern-sub -E against the fake server")
        subs = f.subscribes()
        check_eq(len(subs), 1, "one SUBSCRIBE")
        p = subs[0]
        check_eq(p.fields["filters"], [("w/a", 2 | 4 | 8 | 16),
                                       ("w/b", 2 | 4 | 8 | 16)],
                 "filters and option bytes")
        check_eq(p.props.get("subscription_identifier"), [9],
                 "subscription identifier")
        check_eq(p.props.get("user_property"), [("who", "me")],
                 "user property")
    with FakeBroker() as f:
        with TernSub(f.port, "w/c", version=5, qos=1, args=["-E"]) as s:
            check_eq(s.finish(), 0, "plain tern-sub -E")
        check_eq(f.subscribes()[0].fields["filters"], [("w/c", 1)],
                 "default options byte")
        check("subscription_identifier" not in f.subscribes()[0].props,
              "no subscription identifier by default")


main(test)
