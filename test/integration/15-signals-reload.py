#!/usr/bin/env python3
"""SIGHUP reads the configuration file again and applies what it can.

One node, its file rewritten and SIGHUP sent before each part:
A. log_level notice -> debug: a new connection is logged at debug
   ("new connection from") after the reload, not before.
B. max_queued_messages 100 -> 3: an offline persistent session then
   gets at most 3 of 10 QoS 1 messages (the others are dropped, as with
   the limit given at start).
C. presence_debounce 60 -> 1: a client that leaves after the reload has
   its offline published within seconds, not after a minute.
D. The listener's port changed (it cannot be applied without a
   restart): "listener changed in <file>: restart ternd to apply" is
   logged as a warning, the old port still serves and the new one is
   not listened on; the other keys of the file still apply."""
import json
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402
from v5util import recv_or_none  # noqa: E402

PERSIST = {"session_expiry_interval": 3600}


def conf_with(**kw):
    keys = {"log_level": "notice", "max_queued_messages": "100",
            "presence_topic": "im/p/%c", "presence_debounce": "60"}
    keys.update(kw)
    return ["%s %s" % kv for kv in keys.items()]


def part_a(b):
    c = raw.Client(b.port, version=V311)
    c.connect("a-before")
    c.disconnect()
    time.sleep(0.3)
    check("new connection from" not in b.log(), "A: no debug line at "
          "notice")
    b.reload(conf_with(log_level="debug"))
    c = raw.Client(b.port, version=V311)
    c.connect("a-after")
    c.disconnect()
    b.wait_log("new connection from", 5)


def part_b(b):
    c = raw.Client(b.port, version=V311)
    c.connect("b-offline", clean=False)
    c.subscribe("rl/q", qos=1)
    c.disconnect()
    b.reload(conf_with(log_level="debug", max_queued_messages="3"))
    b.wait_log("max_queued_messages changed in %s: applied" % b.conf_path)
    p = raw.Client(b.port, version=V311)
    p.connect("b-pub")
    for i in range(10):
        p.publish("rl/q", b"%02d" % i, qos=1, mid=i + 1)
    c = raw.Client(b.port, version=V311)
    ack = c.connect("b-offline", clean=False)
    check_eq(ack.session_present, 1, "B: session present")
    c.subscribe("rl/marker", qos=1, mid=99)
    p.publish("rl/marker", b"end", qos=1, mid=100)
    got = []
    while True:
        m = c.recv_publish(timeout=5.0)
        if m.topic == "rl/marker":
            break
        got.append(int(m.payload))
    log("B: received %r" % got)
    check(1 <= len(got) <= 3, "B: at most the new limit, 3, of 10 "
          "queued: got %d" % len(got))
    p.disconnect()
    c.disconnect()


def part_c(b):
    w = raw.Client(b.port, version=V5)
    w.connect("c-watcher")
    w.subscribe("im/p/c-alice", qos=1)
    a = raw.Client(b.port, version=V5)
    a.connect("c-alice", clean=False, properties=PERSIST)
    p = w.expect(raw.PUBLISH, timeout=5.0, what="C: online")
    w.ack(p)
    check_eq(json.loads(p.payload.decode())["status"], "online",
             "C: online")
    b.reload(conf_with(log_level="debug", max_queued_messages="3",
                        presence_debounce="1"))
    a.disconnect()
    left = time.monotonic()
    status = None
    while status != "offline" and time.monotonic() < left + 6:
        p = recv_or_none(w, 0.5)
        if p is not None:
            w.ack(p)
            check_eq(p.topic, "im/p/c-alice", "C: presence topic")
            status = json.loads(p.payload.decode())["status"]
    check(status == "offline", "C: offline within seconds of leaving "
          "(presence_debounce 1 since the reload)")
    w.disconnect()


def part_d(b):
    old = b.port
    new = free_port()
    b._fixed_port = new
    b.reload(conf_with(log_level="debug", max_queued_messages="3",
                        presence_debounce="1", max_keepalive="30"))
    b._fixed_port = None
    b.wait_log("warning: listener changed in %s: restart ternd to apply"
               % b.conf_path)
    b.wait_log("max_keepalive changed in %s: applied" % b.conf_path)
    check(not port_accepts(new), "D: the new port is not listened on")
    c = raw.Client(old, version=V5)
    ack = c.connect("d-client", keepalive=60)
    check_eq(ack.props.get("server_keep_alive"), 30,
             "D: the old port serves, with max_keepalive 30 applied")
    c.disconnect()


def test():
    tern_only("SIGHUP reload")
    with Broker(conf=conf_with(), verbose=False) as b:
        part_a(b)
        part_b(b)
        part_c(b)
        part_d(b)
        check(b.alive(), "alive after the reloads")


main(test)
