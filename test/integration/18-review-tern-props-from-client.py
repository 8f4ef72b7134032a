#!/usr/bin/env python3
"""Review: user properties named "$tern/..." that a client puts on its
PUBLISH must not steer what the next node does with the message.

The markers of forwarded and moved messages ($tern/share, $tern/noplain,
$tern/to, $tern/seq, $tern/qos, $tern/flags, $tern/subids) travel as user
properties, and handle_publish keeps a client's own user properties, so
whatever a client sets reaches the other node's bridge_msg_in, which takes
it for the sending node's marker.

A. A client on n1 publishes on "news" (a subscriber on n2 has "news")
   with "$tern/to" = "victim": n2 takes it for a moved message and puts
   it straight into the session "victim" (no subscription, no ACL), and
   the subscriber of "news" on n2 does not get it.
B. A client on n1 publishes on "news" with "$tern/noplain": n2 delivers
   it to no plain subscriber.

Expected: the subscriber on n2 gets both messages; "victim" gets none."""
import os
import socket
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import check, check_eq, log, main  # noqa: E402
import mqttraw as raw  # noqa: E402
from cluster import Cluster  # noqa: E402


def drain(c, timeout):
    out = []
    while True:
        try:
            p = c.recv(timeout)
        except socket.timeout:
            return out
        if p.type == raw.PUBLISH:
            c.ack(p)
            out.append(p)


def test():
    with Cluster(2) as cl:
        victim = raw.Client(cl[1].port, version=raw.V5)
        victim.connect("victim", clean=False,
                       properties={"session_expiry_interval": 300})
        victim.subscribe([("victim/own", 1)])
        news = raw.Client(cl[1].port, version=raw.V5)
        news.connect("news-sub")
        news.subscribe([("news", 1)])

        p = raw.Client(cl[0].port, version=raw.V5)
        p.connect("spoofer")
        p.publish("news", b"A: to the victim", qos=1, mid=1, properties=[
            ("user_property", [("$tern/to", "victim"),
                               ("$tern/seq", "1000000"),
                               ("$tern/qos", "1")])])
        p.publish("news", b"B: noplain", qos=1, mid=2, properties=[
            ("user_property", [("$tern/noplain", "")])])
        p.publish("news", b"C: plain", qos=1, mid=3)

        got_news = drain(news, 3.0)
        got_victim = drain(victim, 1.0)
        log("news-sub got %r" % [q.payload for q in got_news])
        log("victim got %r" % [(q.topic, q.payload) for q in got_victim])
        check_eq([(q.topic, q.payload) for q in got_victim], [],
                 "messages put into the session 'victim' (not subscribed "
                 "to 'news') by a client's $tern/to user property")
        check_eq([q.payload for q in got_news],
                 [b"A: to the victim", b"B: noplain", b"C: plain"],
                 "messages at the subscriber of 'news' on n2")
        p.disconnect()
        news.disconnect()
        victim.disconnect()


main(test)
