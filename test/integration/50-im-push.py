#!/usr/bin/env python3
"""The offline push webhook on one node (push_webhook, signed).

A. bob (v5, persistent) subscribes at QoS 2 and goes away; alice sends
   him a QoS 1 and a QoS 2 message (the second with a user name on
   neither side: bob logs in as user "bob-user"). The webhook gets, in
   one request or two, two events with every field right: client_id
   bob, user bob-user, the topic, from alice, qos 1 then 2, size (the
   payload's bytes), queued 1 then 2, and a message_id equal to the
   tern-mid bob gets with each message when he comes back
   (message_id_property). Each request is a POST to the path and query
   of the URL, Content-Type application/json, X-Tern-Signature the
   HMAC-SHA256 of its body under the secret (checked here with hmac),
   and no X-Tern-Node (no node_name).
B. Nothing fires for: bob online (QoS 1 and 2 reach him), a QoS 0
   message to him offline, a QoS 1 message delivered at QoS 0 (his
   QoS 0 subscription), a clean session that went away (its session
   ended with it), and a client whose message the ACL keeps from it.
   Then one more QoS 1 message to bob offline fires exactly one event:
   the webhook was listening all along.
C. Config refused at start: an https URL (with the word "proxy" in the
   error), no host, a bad port, ftp://, a short secret."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402
from webhook import Webhook  # noqa: E402

SECRET = "a-webhook-secret-for-tests"
EXPIRY = {"session_expiry_interval": 3600}


def mid_of(p):
    return dict(p.props.get("user_property", [])).get("tern-mid")


def check_request(r, what):
    check_eq(r.path, "/push/hook?x=1", "%s: path and query" % what)
    check_eq(r.headers.get("Content-Type"), "application/json",
             "%s: content type" % what)
    check(r.signed_by(SECRET), "%s: signature %r verifies" %
          (what, r.headers.get("X-Tern-Signature")))
    check("X-Tern-Node" not in r.headers, "%s: no X-Tern-Node without "
          "node_name" % what)


def part_a(b, hook):
    bob = raw.Client(b.port, version=V5)
    bob.connect("bob", clean=False, properties=EXPIRY, username="bob-user")
    bob.subscribe("im/u/bob", qos=2)
    bob.disconnect()
    alice = raw.Client(b.port, version=V5)
    alice.connect("alice")
    alice.publish("im/u/bob", b"hello bob", qos=1, mid=1)
    alice.publish("im/u/bob", b"second message", qos=2, mid=2)
    ev = hook.wait_events(2, what="A")
    check_eq(len(ev), 2, "A: two events")
    for r in hook.delivered():
        check_request(r, "A")
    check(len(hook.delivered()) <= 2, "A: one request or two")
    for e in ev:
        check_eq(sorted(e), ["client_id", "from", "message_id", "qos",
                             "queued", "size", "topic", "user"],
                 "A: fields")
    check_eq([(e["client_id"], e["user"], e["topic"], e["from"], e["qos"],
               e["size"], e["queued"]) for e in ev],
             [("bob", "bob-user", "im/u/bob", "alice", 1, 9, 1),
              ("bob", "bob-user", "im/u/bob", "alice", 2, 14, 2)],
             "A: the events")
    bob = raw.Client(b.port, version=V5)
    bob.connect("bob", clean=False, properties=EXPIRY, username="bob-user")
    m1 = bob.recv_publish(timeout=5.0)
    m2 = bob.recv_publish(timeout=5.0)
    check_eq([(m1.payload, m1.qos), (m2.payload, m2.qos)],
             [(b"hello bob", 1), (b"second message", 2)],
             "A: bob gets both")
    check_eq([e["message_id"] for e in ev], [mid_of(m1), mid_of(m2)],
             "A: message_id is the tern-mid bob gets")
    check(len(set(e["message_id"] for e in ev)) == 2 and
          all(len(e["message_id"]) == 22 for e in ev),
          "A: two distinct 22-char ids")
    alice.disconnect()
    return bob


def part_b(b, hook, bob):
    n = len(hook.events())
    alice = raw.Client(b.port, version=V5)
    alice.connect("alice")
    # Online: nothing.
    alice.publish("im/u/bob", b"online 1", qos=1, mid=1)
    alice.publish("im/u/bob", b"online 2", qos=2, mid=2)
    check_eq(bob.recv_publish(timeout=5.0).payload, b"online 1",
             "B: bob online gets it")
    check_eq(bob.recv_publish(timeout=5.0).payload, b"online 2",
             "B: bob online gets it")
    bob.subscribe("im/q0/bob", qos=0, mid=3)
    bob.disconnect()
    # QoS 0 published, and QoS 1 through a QoS 0 subscription.
    alice.publish("im/u/bob", b"qos 0", qos=0)
    alice.publish("im/q0/bob", b"qos 1 to a qos 0 sub", qos=1, mid=3)
    # A clean session that went away.
    carol = raw.Client(b.port, version=V5)
    carol.connect("carol", clean=True)
    carol.subscribe("im/u/carol", qos=1)
    carol.disconnect()
    alice.publish("im/u/carol", b"to nobody", qos=1, mid=4)
    # The ACL keeps it from dave.
    dave = raw.Client(b.port, version=V5)
    dave.connect("dave", clean=False, properties=EXPIRY)
    dave.subscribe("im/secret/#", qos=1)
    dave.disconnect()
    alice.publish("im/secret/x", b"not for dave", qos=1, mid=5)
    hook.quiet(1.5, "B")
    check_eq(len(hook.events()), n, "B: no event")
    # Then one that fires: the server was there all along.
    alice.publish("im/u/bob", b"now", qos=1, mid=6)
    ev = hook.wait_events(n + 1, what="B")[n:]
    check_eq([(e["client_id"], e["qos"], e["size"], e["queued"])
              for e in ev], [("bob", 1, 3, 1)], "B: one event")
    alice.disconnect()


def part_c():
    bad = [("push_webhook https://127.0.0.1:8443/push", "proxy"),
           ("push_webhook http:///push", "no host"),
           ("push_webhook http://:80/push", "no host"),
           ("push_webhook http://127.0.0.1:99999/push", "bad port"),
           ("push_webhook http://127.0.0.1:/push", "bad port"),
           ("push_webhook ftp://127.0.0.1/push", "http:// URL"),
           ("push_webhook_secret short", "at least 16 bytes")]
    for i, (line, want) in enumerate(bad):
        conf = tmp_path("bad%d.conf" % i)
        with open(conf, "w") as f:
            f.write("listener 0 127.0.0.1\n%s\n" % line)
        r = run_ternd(["-c", conf, "-d", tmp_path("bad%d" % i)])
        check(r.rc != 0, "C: %r refused (rc %r)" % (line, r.rc))
        check(want in r.err and "push_webhook" in r.err,
              "C: %r: error names the problem (%r): %r" % (line, want,
                                                            r.err))


def test():
    tern_only("push webhook")
    acl = tmp_path("acl")
    with open(acl, "w") as f:
        f.write("pattern readwrite im/u/#\npattern readwrite im/q0/#\n"
                "pattern subscribe im/secret/#\n"
                "pattern write im/secret/#\n")
    with Webhook() as hook:
        with Broker(conf=["push_webhook %s" % hook.url,
                          "push_webhook_secret %s" % SECRET,
                          "message_id_property true",
                          "acl_file %s" % acl]) as b:
            bob = part_a(b, hook)
            part_b(b, hook, bob)
            b.check_log_clean()
    part_c()


main(test)
