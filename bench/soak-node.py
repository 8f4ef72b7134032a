#!/usr/bin/env python3
"""bench/soak-node.py - one ternd under faults: is what it acknowledged
delivered, and QoS 2 exactly once?

The promise checked: once ternd has answered PUBACK (QoS 1) or PUBREC
(QoS 2) with success (reason < 0x80), the message reaches every persistent
subscriber, and a QoS 2 message reaches it exactly once -- across kill -9,
a full disk and network faults; also a message to a group, whose offline
members' queues refer to the group's log (group_log_threshold).

Each round (--rounds, default 20):
  - a tmpfs (--tmpfs-size, default 128m: ternd lets the WAL grow to 32
    MiB between checkpoints, wal_autocheckpoint in store/schema.c, and at
    500 msg/s writes ~5 MB/s of it, so 32m would be full for good within
    seconds) is mounted on the data dir and
    ternd starts on 127.0.0.1, any free port (the harness's Broker: ready
    file, same port on every restart; max_queued_messages raised so that
    no queue limit drops anything on purpose);
  - --users (default 20) persistent subscribers, even uids MQTT 3.1.1
    (clean session 0), odd uids MQTT 5 (clean start 0, session expiry
    3600 s), each subscribed to im/u/<uid> at QoS 2 and to its groups'
    topics, each through its own
    fault proxy (test/lib/faultproxy.py, run as one separate process with
    one proxy per user plus one for publishers). Their receiving state (QoS
    2 packet ids awaiting PUBREL, what was delivered to the application)
    outlives reconnects (storeutil.Receiver);
  - groups (unless --group-share 0): --groups G (default users // 10, at
    least 1) topics im/g/<k>; user uid is a member of group uid % G, every
    fifth user also of group (uid + 1) % G (its queue then switches
    between two logs); every fourth user (uid % 4 == 3) subscribes to its
    groups at QoS 1, the others at QoS 2. ternd runs with
    group_log_threshold --group-threshold (default 4, at most the
    smallest group), so that a group message to offline members is an
    entry of the group's log and a span of each member's queue;
  - --publishers (default 4: 3.1.1 direct, 5 through a proxy, 5 direct,
    3.1.1 through a proxy, and so on), persistent sessions too, send QoS 1
    and QoS 2 (half each) to random users, or with probability
    --group-share (default 0.2) to a random group, at --rate messages/s
    in total (default 500) for --seconds (default 30), at most --window
    (default 32) unacknowledged each. Each payload carries a unique
    message id, the sender and its sequence number. After a reconnect a
    publisher resends what was not acknowledged (PUBLISH with DUP, or
    PUBREL), as MQTT requires of a client with a session; a refused
    message (v5, reason >= 0x80) is not sent again;
  - faults while the traffic runs: kill -9 of ternd and a restart on the
    same data dir every --kill-every seconds on average (default 6);
    --disk-fulls (default 2) full-disk windows of --disk-full seconds
    (default 3) per round, the first 1-4 s into the traffic while ternd's
    WAL is still growing (later, SQLite writes over the WAL it has and a
    full tmpfs only bites when tern.db must grow; the "full" column shows
    whether it did), the other at random: a file fills the tmpfs until
    ENOSPC, is held, then deleted; never at the same time as a kill; and
    every --net-every seconds on average (default 0.5) a
    random subscriber's proxy cuts (reset) or stalls (0.5-4 s, holding or
    discarding bytes; see faultproxy.py); the publishers' proxy is cut
    every 3-8 s; every --away-every seconds on average (default 0.5) a
    random connected user disconnects cleanly (DISCONNECT) and stays
    away 1 to --away seconds (default 5), an offline persistent session
    while messages come (group members offline: the group log path; cuts
    alone end in a reconnect within a second). Clients reconnect with a
    bounded backoff (50 ms doubling to 1 s) and detect dead connections
    with their keep alive (5 s; no PINGRESP within 4 s);
  - then the faults stop, the publishers finish their flows (at most 30
    s), every user reconnects and drains its queue until quiet (2 s
    without a PUBLISH or PUBREL; at most --drain seconds, default 60). If
    something looks lost, every user reconnects and drains once more
    before it is counted, so that a message still queued is not reported
    lost; then (post-mortem) ternd is stopped with SIGTERM, its data dir
    copied to the logs, started again, and every user drains once more:
    a lost message that comes now was on disk but stuck in the running
    broker (still counted lost). A lost message is also checked against
    its subscriber's packet trace: received but not delivered is either
    a new message that reused a packet id the broker had not released
    (the subscriber, as MQTT 4.3.3 requires, takes it for a duplicate:
    lost, the broker's fault) or a bug of this script (reported as such).

Columns, per round (a group message is owed once to each member: lost,
q2dup and q1dup count (message, member) pairs):
  sent     messages published (first transmissions)
  acked    acknowledged with success (PUBACK / PUBREC reason < 0x80)
  group    of those, messages to a group
  owed     deliveries owed: (acknowledged message, member) pairs
  refused  answered with reason >= 0x80 (v5), not sent again
  noans    never answered (publisher gave up at the end of the round)
  lost     acknowledged but never delivered to a subscriber      [must be 0]
  q2dup    delivered to a subscriber's application twice at QoS 2
           (a QoS 2 message to a QoS 1 member is QoS 1 for it)   [must be 0]
  q1dup    delivered more than once at QoS 1 (informational)
  order    order inversions of one sender's messages on one topic at a
           subscriber (informational)
  unackd   delivered but not acknowledged with success (informational)
  kills    kill -9 + restart of ternd
  full     full-disk windows / messages refused, or published again
           after a disconnect, meanwhile (0: the full disk did not bite)
  cuts stalls   network faults injected on subscriber connections
  aways    clean disconnects of a user for 1 to --away seconds
  slost    reconnects that found the session gone (session present 0)
  glog     ternd's tern_group_log_entries_total / ..._deliveries_total,
           summed over the round's ternd processes (scraped from /metrics
           every 5 s and before each kill -9 or stop; they start at 0 with
           each process); 0 entries while groups are on is an oddity
  oddity   other anomalies, summed up under the table per kind: QoS 2
           flows ternd never released (PUBREC sent, no PUBREL ever),
           packet ids reused while still in a flow, unexpected ternd
           exits, drain timeouts, unexpected acks, wrong topics, a
           group log never used
  msg/s    achieved publish rate
Exit status 0 only if lost == 0 and q2dup == 0 in every round (1 if not,
2 for a usage or set-up error). The logs of a round with lost messages,
QoS 2 duplicates or oddities (ternd's log, the proxy's, a timeline of
faults and connections, a trace of the packets each client received
or published, the details of each lost or duplicated message, the data
dir at the post-mortem) are kept under --logs (default
/tmp/soak-node-logs/RUN-round-NN/; --keep-logs keeps every round's).

Runs as root (mount) under /usr/bin/python3:
  /usr/bin/python3 bench/soak-node.py [--ternd PATH] [--quick] [--rounds N]
      [--seconds S] [--users N] [--publishers N] [--rate R] [--seed N]
      [--kill-every S] [--disk-full S] [--net-every S] [--no-pub-cuts]
      [--group-share F] [--groups G] [--group-threshold N]
      [--away-every S] [--away S] ...
  --quick = 2 rounds of 10 s; --help lists every option. --ternd defaults
  to build/run/broker/ternd. A fault is switched off with 0 (e.g.
  --disk-full 0); --group-share 0 is the soak without groups (no group
  subscriptions). The seed is printed: --seed N replays the same fault
  schedule and traffic (timing still varies).
Every process it starts is stopped by PID, the tmpfs unmounted, also on
an error or Ctrl-C; every wait is bounded.
"""

import argparse
import collections
import errno
import os
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(TOP, "test", "lib")
sys.path.insert(0, LIB)
sys.dont_write_bytecode = True      # no __pycache__ in the source tree
import harness  # noqa: E402
import metricsutil as mu  # noqa: E402
import mqttraw as raw  # noqa: E402
from storeutil import Receiver, session_props  # noqa: E402

EXPIRY = 3600             # v5 session expiry of every client
KEEPALIVE = 5             # seconds; a PINGREQ when idle that long
PING_TIMEOUT = 4.0        # no packet that long after a PINGREQ: dead
CONNECT_TIMEOUT = 3.0     # TCP connect and CONNACK
BACKOFF_MIN, BACKOFF_MAX = 0.05, 1.0
QUIET = 2.0               # drain: that long without PUBLISH/PUBREL
PUB_FINISH = 30.0         # publishers' last flows at the end of a round
JOIN = 10.0               # thread joins
TRACE = 50000             # packets kept per client for the logs
ERRORS = (OSError, raw.Closed, raw.ProtocolError, AssertionError)
GLOG_METRICS = (("entries", "tern_group_log_entries_total"),
                ("deliveries", "tern_group_log_deliveries_total"),
                ("spans", "tern_group_log_spans_total"))


class SetupError(Exception):
    pass


class Dead(Exception):
    pass


def vname(v):
    return "5" if v == raw.V5 else "3.1.1"


class Timeline:
    """Round-relative clock and the list of faults and notable events."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.events = []

    def now(self):
        return time.monotonic() - self.t0

    def add(self, kind, detail=""):
        with self.lock:
            self.events.append((self.now(), kind, detail))

    def of(self, kind):
        with self.lock:
            return [e for e in self.events if e[1] == kind]


def sleep_unless(ev, secs):
    ev.wait(max(0.0, secs))


# --------------------------------------------------------------------------
# groups: user uid is a member of group uid % G (im/g/<k>), and every
# fifth user of group (uid + 1) % G too, so that members switch between
# two logs; every fourth user subscribes to its groups at QoS 1 (a QoS 2
# message reaches it at QoS 1: duplicates allowed), the others at QoS 2

def group_topic(k):
    return "im/g/%d" % k


def groups_of(uid, ngroups):
    if ngroups <= 0:
        return []
    gs = [uid % ngroups]
    if ngroups > 1 and uid % 5 == 0:
        gs.append((uid + 1) % ngroups)
    return gs


def group_qos(uid):
    return 1 if uid % 4 == 3 else 2


# --------------------------------------------------------------------------
# payloads: "<msgid>|<sender>|<seq>|<qos>|<target>|<padding>", target
# the user's uid or "g<k>" for group k

def make_payload(msgid, sender, seq, qos, target, size):
    p = b"%s|%s|%d|%d|%s|" % (msgid.encode(), sender.encode(), seq, qos,
                              target.encode())
    if len(p) < size:
        p += b"." * (size - len(p))
    return p


def msgid_of(p):
    if p.type != raw.PUBLISH:
        return ""
    return p.payload.split(b"|", 1)[0].decode(errors="replace")


def parse_payload(b):
    f = b.split(b"|", 5)
    return f[0].decode(), f[1].decode(), int(f[2]), int(f[3]), f[4].decode()


# --------------------------------------------------------------------------
# the fault proxies, one process (faultproxy.py's command line)

class ProxyProcess:
    def __init__(self, targets, log_path):
        cmd = [sys.executable, os.path.join(LIB, "faultproxy.py")]
        for host, port in targets:
            cmd += ["--target", "%s:%d" % (host, port)]
        self.logf = open(log_path, "ab")
        self.p = harness.spawn(cmd, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=self.logf)
        self.buf = b""
        self.lock = threading.Lock()
        line = self._readline(10.0)
        self.ports = [int(x) for x in line.split()]
        if len(self.ports) != len(targets):
            raise SetupError("faultproxy printed %r" % line)

    def _readline(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SetupError("faultproxy did not answer within %.0fs"
                                 % timeout)
            r, _, _ = select.select([fd], [], [], left)
            if r:
                d = os.read(fd, 4096)
                if not d:
                    raise SetupError("faultproxy exited (status %r)"
                                     % self.p.poll())
                self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def cmd(self, line, timeout=15.0):
        with self.lock:
            self.p.stdin.write((line + "\n").encode())
            self.p.stdin.flush()
            ans = self._readline(timeout)
        if not ans.startswith("ok"):
            raise SetupError("faultproxy %r: %s" % (line, ans))
        return ans

    def close(self):
        try:
            if self.p.poll() is None:
                self.cmd("quit", timeout=5.0)
                self.p.wait(timeout=10)
        except (OSError, SetupError, subprocess.TimeoutExpired):
            pass
        finally:
            if self.p.poll() is None:
                try:
                    os.kill(self.p.pid, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    self.p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            self.logf.close()


# --------------------------------------------------------------------------
# subscribers

class User(Receiver):
    """A persistent subscriber of im/u/<uid> at QoS 2, and of its groups'
    topics (groups_of, group_qos), on its own thread.

    Receiver (storeutil) does the receiving: a PUBLISH is delivered to the
    application (Receiver.delivered) before it is acknowledged, and QoS 2
    packet ids awaiting PUBREL survive reconnects, so nothing is dropped or
    delivered twice on the client side."""

    def __init__(self, uid, port, version, tl, ngroups=0):
        Receiver.__init__(self, port, "soak-u%02d" % uid, version=version,
                          expiry=EXPIRY)
        self.uid = uid
        self.topic = "im/u/%d" % uid
        self.groups = groups_of(uid, ngroups)
        self.subs = [(self.topic, 2)] + [(group_topic(k), group_qos(uid))
                                         for k in self.groups]
        self.topics = {t for t, _ in self.subs}
        self.away_req = None       # seconds to stay away (Faults.away)
        self.away_until = 0.0
        self.aways = 0
        self.tl = tl
        self.subscribed = False
        self.stop = threading.Event()
        self.force = threading.Event()
        self.connected = False
        self.got_connack = False
        self.connected_at = 0.0
        self.last_msg = 0.0
        self.deliv_t = []          # round time of each delivered entry
        #                            (same length as Receiver.delivered)
        self.rel_msg = {}          # QoS 2 packet id -> (msgid, time)
        self.trace = collections.deque(maxlen=TRACE)
        self.events = []           # (round time, text)
        self.connects = 0
        self.session_lost = 0
        self.oddities = []
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=self.client_id)

    def ev(self, text):
        self.events.append((self.tl.now(), text))

    def connect(self, clean=False, expect_present=None):
        if self.c is not None:
            self.c.close()
            self.c = None
        if clean:
            self.awaiting_rel.clear()
        self.c = raw.Client(self.port, version=self.version,
                            timeout=CONNECT_TIMEOUT)
        self.connack = self.c.connect(
            self.client_id, clean=clean, keepalive=KEEPALIVE,
            properties=session_props(self.version, self.expiry))
        return self.connack

    def _run(self):
        delay = BACKOFF_MIN
        try:
            while not self.stop.is_set():
                self.got_connack = False
                try:
                    self._session()
                except ERRORS as e:
                    self.ev("drop: %s" % (str(e) or type(e).__name__))
                except Dead as e:
                    self.ev("dead: %s" % e)
                self.connected = False
                if self.c is not None:
                    self.c.abort()
                    self.c = None
                if self.stop.is_set():
                    break
                if self.got_connack:
                    delay = BACKOFF_MIN
                # away (a clean DISCONNECT, Faults.away): an offline
                # persistent session while messages come; the drain
                # (force) ends it early
                while time.monotonic() < self.away_until and \
                        not self.stop.is_set() and not self.force.is_set():
                    time.sleep(0.05)
                sleep_unless(self.stop, delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, BACKOFF_MAX)
        except Exception as e:  # noqa: a bug of this script
            self.oddities.append("thread died: %r" % e)
            self.ev("thread died: %s" % traceback.format_exc())
        finally:
            self.connected = False
            if self.c is not None:
                self.c.disconnect()
                self.c = None

    def _session(self):
        self.away_req = None        # asked while it was not connected
        ack = self.connect(clean=False)
        self.got_connack = True
        self.force.clear()          # this is a fresh connection already
        self.connects += 1
        self.connected_at = time.monotonic()
        present = ack.session_present
        self.ev("connected, session present %d" % present)
        if not present or not self.subscribed:
            if self.subscribed:
                self.session_lost += 1
                self.tl.add("session-lost", self.client_id)
            self.subscribe(self.subs)
            self.subscribed = True
            self.ev("subscribed")
        self.connected = True
        c = self.c
        last_tx = time.monotonic()
        ping_out = None
        while not self.stop.is_set():
            if self.force.is_set():
                self.force.clear()
                self.ev("reconnect (drain)")
                c.disconnect()
                self.c = None
                return
            secs = self.away_req
            if secs is not None:
                self.away_req = None
                self.aways += 1
                self.ev("away %.2fs (DISCONNECT)" % secs)
                self.connected = False
                c.disconnect()
                self.c = None
                self.away_until = time.monotonic() + secs
                return
            now = time.monotonic()
            if ping_out is None and now - last_tx >= KEEPALIVE:
                c.send(raw.pingreq())
                ping_out = last_tx = now
            elif ping_out is not None and now - ping_out > PING_TIMEOUT:
                raise Dead("no PINGRESP within %.0fs" % PING_TIMEOUT)
            try:
                p = c.recv(0.2)
            except socket.timeout:
                continue
            ping_out = None
            self.trace.append((self.tl.now(), p.name, p.mid, p.dup,
                               msgid_of(p)))
            if p.type == raw.PINGRESP:
                continue
            if p.type == raw.DISCONNECT:
                raise raw.Closed("DISCONNECT reason %#x" % p.reason)
            if p.type in (raw.PUBLISH, raw.PUBREL):
                self.last_msg = time.monotonic()
            if p.type == raw.PUBLISH and p.topic not in self.topics:
                self.oddities.append("PUBLISH on %r" % p.topic)
            self.handle(p)
            last_tx = time.monotonic()

    def handle(self, p, ack=True):
        if p.type == raw.PUBLISH and p.qos == 2 and \
                p.mid in self.awaiting_rel and p.mid in self.rel_msg:
            msgid = p.payload.split(b"|", 1)[0].decode()
            old, t = self.rel_msg[p.mid]
            if msgid != old:
                # a conforming receiver takes it for a duplicate of the
                # message it has not seen the PUBREL of: lost for the
                # application; the broker reused an id still in a flow
                self.oddities.append(
                    "%s: packet id %d reused for %s (dup %d) while %s "
                    "(PUBREC at %.3f) awaited PUBREL; the new message is "
                    "dropped as a duplicate" % (self.client_id, p.mid,
                                                msgid, p.dup, old, t))
                self.tl.add("id-reuse", "%s id %d %s -> %s"
                            % (self.client_id, p.mid, old, msgid))
        before = len(self.delivered)
        try:
            return Receiver.handle(self, p, ack)
        finally:
            # also when sending the ack failed: the message was delivered
            # to the application before it (Receiver.handle)
            if len(self.delivered) > before:
                self.deliv_t.append(self.tl.now())
                if p.qos == 2:
                    self.rel_msg[p.mid] = (msgid_of(p), self.tl.now())

    def quiet(self):
        """Connected (after the drain's reconnect), and no PUBLISH or
        PUBREL for QUIET seconds. A QoS 2 flow the broker never releases
        is reported at the end, not waited for."""
        return (self.connected and not self.force.is_set() and
                time.monotonic() - max(self.last_msg, self.connected_at)
                >= QUIET)

    def state(self):
        return ("%s: connected %s, %.1fs since the last PUBLISH/PUBREL, "
                "%d awaiting PUBREL" % (
                    self.client_id, self.connected,
                    time.monotonic() - max(self.last_msg, self.connected_at),
                    len(self.awaiting_rel)))

    def unreleased(self):
        """QoS 2 flows still awaiting PUBREL: (packet id, message id,
        round time of the PUBREC)."""
        return [(mid,) + self.rel_msg.get(mid, ("?", -1.0))
                for mid in sorted(self.awaiting_rel)]


# --------------------------------------------------------------------------
# publishers

class Rec:
    """A published message: to user uid (group None) or to every member
    of group k (uid None)."""
    __slots__ = ("msgid", "sender", "seq", "qos", "uid", "group", "t_sent",
                 "t_ack", "reason", "acked", "refused", "stage", "sends",
                 "rel_resent")

    def __init__(self, msgid, sender, seq, qos, uid, t, group=None):
        self.msgid, self.sender, self.seq = msgid, sender, seq
        self.qos, self.uid, self.t_sent = qos, uid, t
        self.group = group
        self.t_ack = None
        self.reason = None
        self.acked = self.refused = False
        self.stage = "sent"
        self.sends = 1
        self.rel_resent = False

    def topic(self):
        return "im/u/%d" % self.uid if self.group is None else \
            group_topic(self.group)

    def target(self):
        return "%d" % self.uid if self.group is None else \
            "g%d" % self.group


class Pub:
    def __init__(self, idx, port, via, version, rate, seed, tl, rnd, args):
        self.name = "p%d" % idx
        self.cid = "soak-p%d" % idx
        self.port, self.via, self.version = port, via, version
        self.interval = 1.0 / rate if rate > 0 else 1e9
        self.rng = random.Random(seed)
        self.tl, self.rnd = tl, rnd
        self.nusers, self.size = args.users, args.size
        self.ngroups, self.group_share = args.groups, args.group_share
        self.window = args.window
        self.linger = args.pub_linger
        self.linger_until = None
        self.c = None
        self.seq = 0
        self.next_mid = 0
        self.records = []
        self.inflight = collections.OrderedDict()   # mid -> Rec
        self.stop_sending = threading.Event()
        self.stop = threading.Event()
        self.connected = False
        self.got_connack = False
        self.connected_at = 0.0
        self.connects = 0
        self.session_lost = 0
        self.behind = 0
        self.pubcomp_92 = 0
        self.oddities = []
        self.events = []
        self.disconnects = collections.Counter()
        self.trace = collections.deque(maxlen=TRACE)
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=self.cid)

    def ev(self, text):
        self.events.append((self.tl.now(), text))

    def _mid(self):
        while True:
            self.next_mid = self.next_mid % 65535 + 1
            if self.next_mid not in self.inflight:
                return self.next_mid

    def _run(self):
        delay = BACKOFF_MIN
        self.next_send = time.monotonic()
        try:
            while not self.stop.is_set():
                if self.stop_sending.is_set() and not self.inflight:
                    break
                self.got_connack = False
                try:
                    self._session()
                except ERRORS as e:
                    self.ev("drop: %s" % (str(e) or type(e).__name__))
                except Dead as e:
                    self.ev("dead: %s" % e)
                self.connected = False
                if self.c is not None:
                    self.c.abort()
                    self.c = None
                if self.stop.is_set() or (self.stop_sending.is_set() and
                                          not self.inflight):
                    break
                if self.got_connack:
                    delay = BACKOFF_MIN
                sleep_unless(self.stop, delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, BACKOFF_MAX)
        except Exception as e:  # noqa: a bug of this script
            self.oddities.append("thread died: %r" % e)
            self.ev("thread died: %s" % traceback.format_exc())
        finally:
            self.connected = False
            if self.c is not None:
                self.c.disconnect()
                self.c = None

    def _session(self):
        v = self.version
        self.c = c = raw.Client(self.port, version=v,
                                timeout=CONNECT_TIMEOUT)
        ack = c.connect(self.cid, clean=False, keepalive=KEEPALIVE,
                        properties=session_props(v, EXPIRY))
        self.got_connack = True
        self.connected_at = time.monotonic()
        present = ack.session_present
        if self.connects and not present:
            self.session_lost += 1
            self.tl.add("session-lost", self.cid)
            # the broker forgot the flows: what was acknowledged (PUBREC)
            # needs nothing more; the rest is published again below
            for mid in [m for m, r in self.inflight.items()
                        if r.stage == "released"]:
                del self.inflight[mid]
        self.connects += 1
        self.ev("connected, session present %d" % present)
        window = self.window
        if v == raw.V5:
            window = min(window, ack.props.get("receive_maximum", 65535))
        # resend, in order, what was not acknowledged (MQTT 4.4)
        for mid, r in self.inflight.items():
            self.trace.append((self.tl.now(), "resend-" + r.stage, mid,
                               1, r.msgid))
            if r.stage == "sent":
                r.sends += 1
                c.send(raw.publish(r.topic(), self._payload(r),
                                   qos=r.qos, mid=mid, dup=True,
                                   version=v))
            else:
                r.rel_resent = True
                c.send(raw.pubrel(mid, version=v))
        self.connected = True
        last_tx = time.monotonic()
        ping_out = None
        while not self.stop.is_set():
            now = time.monotonic()
            if self.stop_sending.is_set():
                if not self.inflight:
                    if self.linger_until is None:
                        self.linger_until = now + self.linger
                    if now >= self.linger_until:
                        c.disconnect()
                        self.c = None
                        return
            else:
                if now - self.next_send > 1.0:
                    self.behind += 1
                    self.next_send = now
                while now >= self.next_send and \
                        len(self.inflight) < window:
                    self._send_new(c)
                    self.next_send += self.interval
                    last_tx = now
            if ping_out is None and now - last_tx >= KEEPALIVE:
                c.send(raw.pingreq())
                ping_out = last_tx = now
            elif ping_out is not None and now - ping_out > PING_TIMEOUT:
                raise Dead("no PINGRESP within %.0fs" % PING_TIMEOUT)
            if self.stop_sending.is_set() or len(self.inflight) >= window:
                wait = 0.2
            else:
                wait = min(0.2, max(0.001, self.next_send - now))
            try:
                p = c.recv(wait)
            except socket.timeout:
                continue
            ping_out = None
            if self._handle(c, p):
                last_tx = time.monotonic()

    def _payload(self, r):
        return make_payload(r.msgid, self.name, r.seq, r.qos, r.target(),
                            self.size)

    def _send_new(self, c):
        self.seq += 1
        uid, group = self.rng.randrange(self.nusers), None
        if self.ngroups and self.rng.random() < self.group_share:
            uid, group = None, self.rng.randrange(self.ngroups)
        qos = self.rng.choice((1, 2))
        r = Rec("r%d-%s-%d" % (self.rnd, self.name, self.seq), self.name,
                self.seq, qos, uid, self.tl.now(), group)
        mid = self._mid()
        self.records.append(r)
        self.inflight[mid] = r
        self.trace.append((r.t_sent, "PUBLISH", mid, 0, r.msgid))
        c.send(raw.publish(r.topic(), self._payload(r), qos=qos,
                           mid=mid, version=self.version))

    def _handle(self, c, p):
        """Returns True if something was sent."""
        v = self.version
        if p.type == raw.PINGRESP:
            return False
        if p.type == raw.DISCONNECT:
            self.disconnects[p.reason] += 1
            raise raw.Closed("DISCONNECT reason %#x" % p.reason)
        if p.type not in (raw.PUBACK, raw.PUBREC, raw.PUBCOMP):
            self.oddities.append("%s: unexpected %r" % (self.cid, p))
            return False
        r = self.inflight.get(p.mid)
        reason = p.reason or 0
        self.trace.append((self.tl.now(), "%s-%#x" % (p.name, reason),
                           p.mid, 0, r.msgid if r is not None else "?"))
        if r is None:
            self.oddities.append("%s: %s for packet id %d not in flight"
                                 % (self.cid, p.name, p.mid))
            return False
        if r.stage == "sent":
            want = raw.PUBACK if r.qos == 1 else raw.PUBREC
            if p.type != want:
                self.oddities.append("%s: %s for a QoS %d PUBLISH (%s)"
                                     % (self.cid, p.name, r.qos, r.msgid))
                return False
            r.reason = reason
            r.t_ack = self.tl.now()
            if reason >= 0x80:
                r.refused = True
                del self.inflight[p.mid]
                return False
            r.acked = True
            if r.qos == 1:
                del self.inflight[p.mid]
                return False
            r.stage = "released"
            c.send(raw.pubrel(p.mid, version=v))
            return True
        # released: PUBCOMP ends it; a repeated PUBREC gets PUBREL again
        if p.type == raw.PUBREC:
            c.send(raw.pubrel(p.mid, version=v))
            return True
        if p.type == raw.PUBCOMP:
            if reason == 0x92 and r.rel_resent:
                # legal: the PUBREL had reached ternd before the
                # connection dropped, its PUBCOMP had not come back
                self.pubcomp_92 += 1
            elif reason:
                self.oddities.append("%s: PUBCOMP reason %#x for %s"
                                     % (self.cid, reason, r.msgid))
            del self.inflight[p.mid]
            return False
        self.oddities.append("%s: %s for a released QoS 2 flow (%s)"
                             % (self.cid, p.name, r.msgid))
        return False


# --------------------------------------------------------------------------
# faults

class Faults:
    def __init__(self, args, rng, b, proxy, users, tl, pub_proxy_idx):
        self.a, self.rng, self.b, self.proxy = args, rng, b, proxy
        self.users, self.tl, self.pub_idx = users, tl, pub_proxy_idx
        self.stop = threading.Event()
        self.kills = 0
        self.cuts = 0
        self.stalls = 0
        self.pubcuts = 0
        self.full_windows = []      # (start, end, bytes filled)
        self.unexpected = []        # (time, exit status)
        self.fatal = None
        self.aways = 0
        # its own generator: who is connected varies from run to run,
        # the other faults' schedule stays that of the seed
        self.away_rng = random.Random(rng.randrange(1 << 30))
        # group log counters of the round: ternd's start at 0 with each
        # process, so the last scrape of each is added up (bank)
        self.glog = collections.Counter()
        self.glog_cur = {}
        self.scrape_fails = 0
        self.last_scrape = 0.0
        self.fill_path = os.path.join(b.data_dir, "soak-fill.bin")
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name="faults")

    # -- ternd
    def start_broker(self, why):
        for attempt in range(5):
            try:
                self.b.start()
                self.tl.add("ready", "pid %d (%s)" % (self.b.pid, why))
                return
            except (harness.TestFailure, harness.HarnessError) as e:
                self.tl.add("start-failed", str(e))
                sleep_unless(self.stop, 0.5)
        raise SetupError("ternd does not start again (see its log)")

    def scrape(self):
        """ternd's group log counters, now."""
        self.last_scrape = self.tl.now()
        try:
            status, _, body = mu.request(self.b.http_port, timeout=2.0)
            if status != 200:
                raise ValueError("status %d" % status)
            m = mu.Metrics(*mu.parse(body))
            self.glog_cur = {k: int(m.get(n)) for k, n in GLOG_METRICS}
            return True
        except Exception as e:  # noqa: OSError, TestFailure, HTTP errors
            self.scrape_fails += 1
            self.tl.add("scrape-failed", repr(e))
            return False

    def bank(self, scrape=True):
        """ternd is about to stop (or has): the counters of this process
        go to the round's."""
        if scrape:
            self.scrape()
        for k, v in self.glog_cur.items():
            self.glog[k] += v
        self.glog_cur = {}

    def kill(self):
        pid = self.b.pid
        self.bank()
        self.tl.add("kill", "kill -9 pid %d" % pid)
        self.b.kill9()
        self.kills += 1
        self.start_broker("after kill -9")

    def check_broker(self):
        if not self.b.alive():
            rc = self.b.proc.returncode
            self.unexpected.append((self.tl.now(), rc))
            self.tl.add("UNEXPECTED-EXIT", "ternd pid %d exited with status "
                        "%r" % (self.b.pid, rc))
            self.bank(scrape=False)     # the last periodic scrape
            self.b.kill9()      # reap, close its log
            self.release_disk()
            self.start_broker("after an unexpected exit")

    # -- disk
    def fill_disk(self):
        n = 0
        with open(self.fill_path, "wb", buffering=0) as f:
            for chunk in (1 << 20, 1 << 14, 4096, 512, 1):
                buf = b"\0" * chunk
                try:
                    while True:
                        w = f.write(buf)
                        if not w:
                            break
                        n += w
                except OSError as e:
                    if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                        raise
        return n

    def release_disk(self):
        try:
            os.unlink(self.fill_path)
            self.tl.add("disk-free", "")
            return True
        except FileNotFoundError:
            return False

    # -- offline members
    def away(self):
        """A random connected user disconnects cleanly and stays away 1 to
        --away seconds: its persistent session is offline while group
        messages come, the case group logs are for."""
        cands = [u for u in self.users if u.connected and
                 u.away_req is None]
        if not cands:
            return
        u = self.away_rng.choice(cands)
        u.away_req = self.away_rng.uniform(1.0, max(1.0, self.a.away))
        self.aways += 1

    # -- network
    def net_fault(self):
        i = self.rng.randrange(len(self.users))
        u = self.users[i]
        kind = self.rng.choices(("cut", "stall", "stall discard"),
                                (2, 1, 1))[0]
        if kind == "cut":
            ans = self.proxy.cmd("%d cut" % i)
            self.cuts += 1
            u.ev("proxy: cut (%s)" % ans)
        else:
            secs = self.rng.uniform(0.5, 4.0)
            self.proxy.cmd("%d stall %.2f%s" % (
                i, secs, " discard" if "discard" in kind else ""))
            self.stalls += 1
            u.ev("proxy: %s %.2fs" % (kind, secs))

    def _run(self):
        a, rng, tl = self.a, self.rng, self.tl
        dur = a.seconds
        next_kill = rng.uniform(0.3, 0.8) * a.kill_every if a.kill_every \
            else None
        # full-disk windows: the first early, while ternd's WAL still
        # grows (once it has reached its checkpoint size, 32 MiB, SQLite
        # writes over it and a full disk only bites when tern.db grows),
        # the others at random, apart from each other
        starts = []
        if a.disk_full and a.disk_fulls > 0:
            t = rng.uniform(1.0, 4.0)
            for i in range(a.disk_fulls):
                if t + a.disk_full + 1 > dur:
                    break
                starts.append(t)
                t = rng.uniform(t + a.disk_full + 2.0,
                                max(t + a.disk_full + 2.0,
                                    dur - a.disk_full - 1))
        full_at = starts.pop(0) if starts else None
        full_until = None
        next_net = rng.expovariate(1.0 / a.net_every) if a.net_every \
            else None
        next_pubcut = rng.uniform(3, 8) if a.pub_cuts else None
        arng = self.away_rng
        next_away = arng.expovariate(1.0 / a.away_every) \
            if a.away_every and a.away else None
        try:
            while not self.stop.is_set():
                now = tl.now()
                self.check_broker()
                if full_at is not None and now >= full_at:
                    full_at = None
                    t = tl.now()
                    n = self.fill_disk()
                    tl.add("disk-full", "%d bytes filled" % n)
                    full_until = tl.now() + a.disk_full
                    self.full_windows.append([t, None, n])
                elif full_until is not None and now >= full_until:
                    self.release_disk()
                    self.full_windows[-1][1] = tl.now()
                    full_until = None
                    full_at = starts.pop(0) if starts else None
                    if next_kill is not None:
                        next_kill = max(next_kill, tl.now() + 1.0)
                elif next_kill is not None and now >= next_kill:
                    if full_until is None and (full_at is None or
                                               full_at - now > 1.5):
                        self.kill()
                        next_kill = tl.now() + rng.uniform(
                            0.5, 1.5) * a.kill_every
                    else:
                        next_kill = now + 0.5
                if next_net is not None and now >= next_net:
                    self.net_fault()
                    next_net = now + rng.expovariate(1.0 / a.net_every)
                if next_pubcut is not None and now >= next_pubcut:
                    ans = self.proxy.cmd("%d cut" % self.pub_idx)
                    self.pubcuts += 1
                    tl.add("pub-proxy-cut", ans)
                    next_pubcut = now + rng.uniform(3, 8)
                if next_away is not None and now >= next_away:
                    self.away()
                    next_away = now + arng.expovariate(1.0 / a.away_every)
                if now - self.last_scrape >= 5.0 and self.b.alive():
                    self.scrape()
                nxt = [x for x in (next_kill, full_until, full_at, next_net,
                                   next_pubcut, next_away) if x is not None]
                wait = min(nxt) - tl.now() if nxt else 0.1
                sleep_unless(self.stop, min(0.1, max(0.005, wait)))
        except Exception as e:  # noqa
            self.fatal = e
            tl.add("faults-thread-error", traceback.format_exc())
        finally:
            if self.release_disk() and self.full_windows and \
                    self.full_windows[-1][1] is None:
                self.full_windows[-1][1] = tl.now()


# --------------------------------------------------------------------------
# one round

def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o",
                        "size=%s,mode=0700" % size, "tmpfs", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=20)
    if r.returncode:
        raise SetupError("mount tmpfs on %s: %s" % (path,
                                                    r.stdout.decode()))


def umount(path):
    for args in (["umount", path], ["umount", "-l", path]):
        for _ in range(3):
            try:
                r = subprocess.run(args, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, timeout=20)
            except subprocess.TimeoutExpired:
                continue
            if r.returncode == 0:
                return True
            time.sleep(0.2)
    return False


def wait_until(cond, timeout, stop=None, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


def run_round(rn, args, rng, run_id):
    tl = Timeline()
    st = collections.OrderedDict(round=rn)
    b = harness.Broker(conf=["max_queued_messages 100000000",
                             "log_level %s" % args.log_level,
                             "group_log_threshold %d"
                             % args.group_threshold] + mu.conf(),
                       name="round-%02d" % rn, verbose=False, start=False)
    mounted = False
    proxy = None
    users, pubs = [], []
    faults = None
    try:
        mount_tmpfs(b.data_dir, args.tmpfs_size)
        mounted = True
        b.start()
        b._fixed_port = b.port      # every restart on the same port
        tl.add("ready", "pid %d port %d" % (b.pid, b.port))
        n = args.users
        proxy = ProxyProcess([("127.0.0.1", b.port)] * (n + 1),
                             os.path.join(b.dir, "proxy.log"))
        if args.latency:
            proxy.cmd("latency %g" % args.latency)
        for uid in range(n):
            users.append(User(uid, proxy.ports[uid],
                              raw.V311 if uid % 2 == 0 else raw.V5, tl,
                              args.groups))
        for u in users:
            u.thread.start()
        if not wait_until(lambda: all(u.subscribed and u.connected
                                      for u in users), 30.0):
            raise SetupError("users not all subscribed within 30 s: %r"
                             % [u.client_id for u in users
                                if not u.subscribed])
        rate = args.rate / float(args.publishers)
        for i in range(args.publishers):
            via = i % 2 == 1
            version = raw.V311 if i % 4 in (0, 3) else raw.V5
            port = proxy.ports[n] if via else b.port
            pubs.append(Pub(i, port, via, version, rate,
                            rng.randrange(1 << 30), tl, rn, args))
        for p in pubs:
            p.thread.start()
        if not wait_until(lambda: all(p.connected for p in pubs), 15.0):
            raise SetupError("publishers not all connected within 15 s")
        # the sessions just created are committed with the next batch
        time.sleep(0.5)
        t_start = tl.now()
        tl.add("traffic", "start")
        faults = Faults(args, random.Random(rng.randrange(1 << 30)), b,
                        proxy, users, tl, n)
        faults.thread.start()
        time.sleep(args.seconds)
        faults.stop.set()
        faults.thread.join(60.0)
        if faults.thread.is_alive():
            raise SetupError("fault thread did not stop within 60 s")
        if faults.fatal is not None:
            raise SetupError("fault thread: %r" % faults.fatal)
        proxy.cmd("heal")
        proxy.cmd("latency 0")
        faults.check_broker()
        for p in pubs:
            p.stop_sending.set()
        t_stop = tl.now()
        tl.add("traffic", "stop")
        wait_until(lambda: all(not p.thread.is_alive() for p in pubs),
                   PUB_FINISH)
        faults.check_broker()

        # drain: everyone reconnects and reads until quiet
        def drain(what):
            for u in users:
                u.force.set()
            tl.add("drain", what)
            ok = wait_until(lambda: all(u.quiet() for u in users),
                            args.drain)
            faults.check_broker()
            return ok
        drained = drain("first")
        res = count(users, pubs, args.groups)
        passes = 1
        if res["lost"] or not drained:
            drained = drain("second (to confirm)")
            res2 = count(users, pubs, args.groups)
            passes = 2
            res2["lost_first_pass"] = res["lost"]
            res = res2
        tl.add("drain", "done, %d pass(es)" % passes)
        res["recovered"] = []
        if res["lost"]:
            # post-mortem: are the lost messages on disk? A graceful
            # restart of ternd and one more reconnect and drain; those
            # that come now were stuck in the running broker (still a
            # broken promise, counted as lost), the others are gone
            tl.add("post-mortem", "graceful restart of ternd")
            faults.bank()
            try:
                prc = b.stop(expect_rc=None)
            except harness.TestFailure as e:
                prc = "stop failed: %s" % e
            tl.add("post-mortem", "ternd exit status %r" % (prc,))
            snap = os.path.join(b.dir, "data-at-post-mortem")
            shutil.copytree(b.data_dir, snap, ignore=shutil.ignore_patterns(
                "soak-fill.bin"))
            faults.start_broker("post-mortem")
            drain("after the post-mortem restart")
            res3 = count(users, pubs, args.groups)
            res["recovered"] = sorted(set(res["lost_ids"]) -
                                      set(res3["lost_ids"]))
            res["dropped"] = res3["dropped"]
            res["where"] = res3["where"]
        for u in users:
            u.stop.set()
        for p in pubs:
            p.stop.set()
        for t in [u.thread for u in users] + [p.thread for p in pubs]:
            t.join(JOIN)
        faults.bank()
        try:
            rc = b.stop(expect_rc=None)
        except harness.TestFailure as e:
            rc = "stop failed: %s" % e
        tl.add("stop", "SIGTERM: exit status %r" % (rc,))

        st.update((k, v) for k, v in res.items()
                  if k not in ("lost_ids", "q2dup_ids", "where", "recs",
                               "oddities", "recovered", "dropped"))
        st["recovered"] = len(res["recovered"])
        st["sent"] = sum(len(p.records) for p in pubs)
        st["gsent"] = sum(1 for p in pubs for r in p.records
                          if r.group is not None)
        st["glog"] = dict(faults.glog)
        st["aways"] = faults.aways
        st["kills"] = faults.kills
        st["full"] = len(faults.full_windows)
        st["full_hit"] = full_hits(pubs, faults.full_windows)
        st["cuts"] = faults.cuts
        st["stalls"] = faults.stalls
        st["slost"] = sum(u.session_lost for u in users) + \
            sum(p.session_lost for p in pubs)
        st["rate"] = st["sent"] / max(0.001, t_stop - t_start)
        odd = []
        for t, code in faults.unexpected:
            odd.append("ternd exited by itself at %.2fs, status %r"
                       % (t, code))
        if rc not in (0, None):
            odd.append("ternd exit status %r on SIGTERM" % (rc,))
        if not drained:
            odd.append("drain timeout: %s" % "; ".join(
                u.state() for u in users if not u.quiet()))
        for u in users:
            left = u.unreleased()
            if left:
                odd.append("%s: %d QoS 2 flows never released by the "
                           "broker (no PUBREL after PUBREC, across "
                           "reconnects): %s" % (
                               u.client_id, len(left), ", ".join(
                                   "id %d %s PUBREC at %.3f" % x
                                   for x in left[:5])))
        for x in users + pubs:
            odd += x.oddities
        odd += res["oddities"]
        if st["gsent"] and not faults.glog["entries"]:
            odd.append("group log unused: %d group messages sent, "
                       "tern_group_log_entries_total stayed 0 (%d failed "
                       "scrapes)" % (st["gsent"], faults.scrape_fails))
        undone = sum(len(p.inflight) for p in pubs)
        if undone:
            odd.append("%d flows unfinished at the end of the round"
                       % undone)
        st["oddities"] = odd
        st["dup_note"] = explain_dups(res, tl, pubs) if res["q2dup"] \
            else ""
        st["behind"] = sum(p.behind for p in pubs)
        st["pub_disconnects"] = sum((p.disconnects for p in pubs),
                                    collections.Counter())
        bad = st["lost"] or st["q2dup"] or odd
        if bad or args.keep_logs:
            st["logdir"] = save_logs(args, run_id, rn, b, tl, users, pubs,
                                     st, res)
        return st
    finally:
        if faults is not None:
            faults.stop.set()
            faults.thread.join(JOIN) if faults.thread.is_alive() else None
            faults.release_disk()
        for x in users + pubs:
            x.stop.set()
        for x in users + pubs:
            if x.thread.is_alive():
                x.thread.join(JOIN)
        if proxy is not None:
            proxy.close()
        try:
            b.kill9()
        except Exception:  # noqa
            b._force_kill()
        if mounted and not umount(b.data_dir):
            sys.stderr.write("soak-node: could not unmount %s\n"
                             % b.data_dir)
        if not args.keep:
            shutil.rmtree(b.dir, ignore_errors=True)


def explain_dups(res, tl, pubs):
    """One line on the QoS 2 duplicates: who sent them, how, when."""
    recs, where = res["recs"], res["where"]
    ids = res["q2dup_ids"]
    ver = collections.Counter()
    retried = in_full_n = distinct = group = 0
    for m, uid in ids:
        r = recs[m]
        if r.group is not None:
            group += 1
        p = next(x for x in pubs if x.name == r.sender)
        ver["v" + vname(p.version)] += 1
        if r.sends > 1:
            retried += 1
        if in_full(tl, r.t_sent) or (r.t_ack is not None and
                                     in_full(tl, r.t_ack)):
            in_full_n += 1
        cid = "soak-u%02d" % uid
        d = [x for x in where.get(m, []) if x[0] == cid]
        if len({x[3] for x in d}) == len(d) and not any(x[4] for x in d):
            distinct += 1
    return ("%d QoS 2 messages delivered more than once to a member "
            "(%d of them group messages): publishers %s; "
            "%d published more than once by their publisher (resent with "
            "DUP after ternd dropped the connection); %d sent or "
            "acknowledged while the disk was full; %d delivered each time "
            "as a new PUBLISH (another packet id, DUP 0)"
            % (len(ids), group, dict(ver), retried, in_full_n, distinct))


def full_hits(pubs, windows):
    """Messages refused, or left without an answer by a disconnect,
    during a full-disk window (to show the fault bit)."""
    n = 0
    for s, e, _ in windows:
        e = e if e is not None else s
        for p in pubs:
            for r in p.records:
                if r.refused and r.t_ack is not None and \
                        s <= r.t_ack <= e + 0.5:
                    n += 1
                elif r.sends > 1 and s <= r.t_sent <= e + 0.5:
                    n += 1
    return n


# --------------------------------------------------------------------------
# counting

def targets(r, members):
    """The uids a message is owed to."""
    return [r.uid] if r.group is None else members.get(r.group, [])


def eff_qos(r, uid):
    """The QoS the message reaches user uid with."""
    return r.qos if r.group is None else min(r.qos, group_qos(uid))


def count(users, pubs, ngroups=0):
    """Deliveries are counted per (message, member): a group message is
    owed once to each member of its group."""
    recs = {}
    for p in pubs:
        for r in p.records:
            recs[r.msgid] = r
    members = collections.defaultdict(list)
    for u in users:
        for k in u.groups:
            members[k].append(u.uid)
    acked = {m for m, r in recs.items() if r.acked}
    owed = {(m, uid) for m in acked for uid in targets(recs[m], members)}
    deliveries = collections.Counter()     # (msgid, uid) -> times
    order = 0
    oddities = []
    where = {}
    for u in users:
        if len(u.delivered) != len(u.deliv_t):
            oddities.append("%s: bookkeeping of this script is off (%d "
                            "deliveries, %d times)" % (
                                u.client_id, len(u.delivered),
                                len(u.deliv_t)))
        seen = set()
        last = {}
        for (topic, payload, qos, mid, dup), t in zip(u.delivered,
                                                      u.deliv_t):
            try:
                msgid, sender, seq, pq, target = parse_payload(payload)
            except (ValueError, IndexError):
                oddities.append("%s: bad payload %r" % (u.client_id,
                                                        payload[:60]))
                continue
            if target.startswith("g"):
                if int(target[1:]) not in u.groups:
                    oddities.append("%s got %s of group %s, not its own"
                                    % (u.client_id, msgid, target[1:]))
            elif int(target) != u.uid:
                oddities.append("%s got %s meant for user %s"
                                % (u.client_id, msgid, target))
            deliveries[(msgid, u.uid)] += 1
            where.setdefault(msgid, []).append((u.client_id, t, qos, mid,
                                                dup))
            if msgid in seen:
                continue
            seen.add(msgid)
            # MQTT orders messages per topic: per sender and topic
            key = (sender, topic)
            if seq < last.get(key, 0):
                order += 1
            last[key] = max(seq, last.get(key, 0))
    # a PUBLISH taken for a QoS 2 duplicate although its message was never
    # delivered to that user: the broker reused a packet id still in a
    # QoS 2 flow (see User.handle), so the message is lost for it
    dropped = {}
    for u in users:
        for p in u.dups:
            m = msgid_of(p)
            if (m, u.uid) not in deliveries:
                dropped.setdefault((m, u.uid), (u.client_id, p.mid))
    lost = sorted(owed - set(deliveries),
                  key=lambda k: (recs[k[0]].t_ack, k[1]))
    # safety net: a lost message must not be in its subscriber's packet
    # trace (received but not counted would be this script's fault)
    for m, uid in lost:
        u = users[uid]
        seen = [t for t, what, _, _, mm in list(u.trace)
                if what == "PUBLISH" and mm == m]
        if seen and (m, uid) not in dropped:
            oddities.append("%s: %s counted lost but a PUBLISH of it was "
                            "received at %s (this script's fault)"
                            % (u.client_id, m, seen))
    q2dup = sorted(k for k, n in deliveries.items()
                   if n > 1 and k[0] in recs and
                   eff_qos(recs[k[0]], k[1]) == 2)
    q1dup = [k for k, n in deliveries.items()
             if n > 1 and k[0] in recs and eff_qos(recs[k[0]], k[1]) == 1]
    delivered_ids = {m for m, _ in deliveries}
    unknown = [m for m in delivered_ids if m not in recs]
    if unknown:
        oddities.append("%d delivered message ids never sent, e.g. %s"
                        % (len(unknown), unknown[:3]))
    return {"acked": len(acked), "owed": len(owed),
            "gacked": sum(1 for m in acked if recs[m].group is not None),
            "refused": sum(1 for r in recs.values() if r.refused),
            "noans": sum(1 for r in recs.values()
                         if not r.acked and not r.refused),
            "lost": len(lost), "q2dup": len(q2dup), "q1dup": len(q1dup),
            "order": order,
            "unackd": sum(1 for m in delivered_ids if m in recs and
                          not recs[m].acked),
            "refused_delivered": sum(1 for m in delivered_ids
                                     if m in recs and recs[m].refused),
            "refused_delivered_q2": sum(1 for m in delivered_ids
                                        if m in recs and recs[m].refused and
                                        recs[m].qos == 2),
            "lost_ids": lost, "q2dup_ids": q2dup, "where": where,
            "recovered": [], "dropped": dropped,
            "id_reuse_lost": sum(1 for k in lost if k in dropped),
            "recs": recs, "oddities": oddities}


# --------------------------------------------------------------------------
# logs and report

def faults_near(tl, t, before=3.0, after=1.0):
    out = []
    for et, kind, detail in tl.events:
        if t - before <= et <= t + after and kind not in ("drain",):
            out.append("%.3f %s %s" % (et, kind, detail))
    return out


def in_full(tl, t):
    start = None
    for et, kind, _ in tl.events:
        if kind == "disk-full":
            start = et
        elif kind == "disk-free" and start is not None:
            if start <= t <= et:
                return True
            start = None
    return start is not None and t >= start


def describe(key, res, users, pubs, tl):
    """key: (message id, uid of the member it is owed to)."""
    msgid, uid = key
    r = res["recs"][msgid]
    p = next(x for x in pubs if x.name == r.sender)
    u = users[uid]
    lines = ["%s: QoS %d from %s (v%s, %s) to %s (v%s)%s; sent %.3f, "
             "acknowledged %.3f reason %#x, transmissions %d%s"
             % (msgid, r.qos, p.cid, vname(p.version),
                "via proxy" if p.via else "direct", u.client_id,
                vname(u.version), "" if r.group is None else
                " as a member of %s (subscribed at QoS %d)"
                % (group_topic(r.group), group_qos(uid)),
                r.t_sent, r.t_ack or -1, r.reason or 0,
                r.sends, "; disk full at the ack" if r.t_ack is not None
                and in_full(tl, r.t_ack) else "")]
    if key in res["dropped"]:
        lines.append("  received by %s with packet id %d, which the broker "
                     "had not released (QoS 2 flow awaiting PUBREL): "
                     "dropped as a duplicate, as MQTT 4.3.3 requires"
                     % res["dropped"][key])
    if key in res["recovered"]:
        lines.append("  delivered only after a graceful restart of ternd "
                     "(post-mortem): on disk, stuck in the running broker")
    d = res["where"].get(msgid)
    if d:
        lines.append("  delivered: %s" % ", ".join(
            "%s at %.3f (QoS %d, packet id %s, dup %d)" % x for x in d))
    lines.append("  faults around the ack: %s"
                 % ("; ".join(faults_near(tl, r.t_ack or r.t_sent)) or
                    "none"))
    ref = r.t_ack or r.t_sent

    def around(x, name):
        ev = ["%.3f %s" % e for e in x.events if ref - 3 <= e[0] <= ref + 3]
        if len(ev) > 16:    # a publisher refused again and again
            ev = ev[:4] + ["(%d more)" % (len(ev) - 12)] + ev[-8:]
        lines.append("  %s around it: %s" % (name, "; ".join(ev) or
                                             "nothing"))
    around(u, u.client_id)
    around(p, p.cid)
    return "\n".join(lines)


def one_line(s):
    return str(s).replace("\n", " | ")


def save_logs(args, run_id, rn, b, tl, users, pubs, st, res):
    d = os.path.join(args.logs, "%s-round-%02d" % (run_id, rn))
    os.makedirs(d, exist_ok=True)
    for name in ("broker.log", "proxy.log", "ternd.conf"):
        src = os.path.join(b.dir, name)
        if os.path.exists(src):
            shutil.copy(src, os.path.join(d, name))
    snap = os.path.join(b.dir, "data-at-post-mortem")
    if os.path.isdir(snap):
        shutil.copytree(snap, os.path.join(d, "data-at-post-mortem"),
                        dirs_exist_ok=True)
    with open(os.path.join(d, "packets.txt"), "w") as f:
        f.write("# round time, client, packet (received by a user; sent "
                "PUBLISH or received ack for a publisher), packet id, dup, "
                "message id\n")
        rows = []
        for x in users + pubs:
            name = x.client_id if isinstance(x, User) else x.cid
            rows += [(t, name, what, mid, dup, m)
                     for t, what, mid, dup, m in list(x.trace)]
        rows.sort(key=lambda r: r[0])
        for r in rows:
            f.write("%.4f %s %s %s %s %s\n" % r)
    with open(os.path.join(d, "timeline.txt"), "w") as f:
        for t, kind, detail in tl.events:
            f.write("%.3f %s %s\n" % (t, kind, one_line(detail)))
        for x in users + pubs:
            name = x.client_id if isinstance(x, User) else x.cid
            for t, text in x.events:
                f.write("%.3f %s %s\n" % (t, name, one_line(text)))
    with open(os.path.join(d, "summary.txt"), "w") as f:
        for k, v in st.items():
            if k not in ("logdir",):
                f.write("%s: %s\n" % (k, v))
        f.write("\nlost (%d):\n" % len(res["lost_ids"]))
        for k in res["lost_ids"]:
            f.write(describe(k, res, users, pubs, tl) + "\n")
        f.write("\nQoS 2 duplicates (%d):\n" % len(res["q2dup_ids"]))
        for k in res["q2dup_ids"]:
            f.write(describe(k, res, users, pubs, tl) + "\n")
    # the timeline sorted, for reading
    with open(os.path.join(d, "timeline.txt")) as f:
        lines = sorted(f, key=lambda l: float(l.split(" ", 1)[0]))
    with open(os.path.join(d, "timeline.txt"), "w") as f:
        f.writelines(lines)
    return d


COLS = [("round", "%5s"), ("sent", "%7d"), ("acked", "%7d"),
        ("group", "%6d"), ("owed", "%7d"),
        ("refused", "%7d"), ("noans", "%5d"), ("lost", "%5d"),
        ("q2dup", "%5d"), ("q1dup", "%5d"), ("order", "%5d"),
        ("unackd", "%6d"), ("kills", "%5d"), ("full", "%8s"),
        ("cuts", "%5d"), ("stalls", "%6d"), ("aways", "%5d"),
        ("slost", "%5d"), ("glog", "%13s"),
        ("oddity", "%6d"), ("msg/s", "%6.0f")]


def row(st):
    vals = []
    for name, fmt in COLS:
        if name == "group":
            v = st["gacked"]
        elif name == "glog":
            g = st["glog"]
            v = "%d/%d" % (g.get("entries", 0), g.get("deliveries", 0))
        elif name == "full":
            v = "%d/%d" % (st["full"], st["full_hit"])
        elif name == "oddity":
            v = len(st["oddities"])
        elif name == "msg/s":
            v = st["rate"]
        else:
            v = st[name]
        vals.append(fmt % v)
    return " ".join(vals)


def header():
    return " ".join(("%" + fmt[1:].rstrip("dfs").split(".")[0] + "s")
                    % name for name, fmt in COLS)


ODDITY_KINDS = [
    ("QoS 2 flows never released", "subscribers holding QoS 2 flows "
     "that ternd never released (PUBREC sent, no PUBREL ever, across "
     "reconnects)"),
    ("reused for", "PUBLISHes with a packet id still awaiting PUBREL at "
     "the subscriber (a new message, dropped as a duplicate)"),
    ("drain timeout", "drain timeouts"),
    ("exited by itself", "unexpected exits of ternd"),
    ("this script's fault", "messages counted lost although received "
     "(a bug of this script)"),
    ("group log unused", "rounds with group traffic where ternd wrote no "
     "group log entry"),
]


def summarize(oddities, examples=2):
    """One line per kind of oddity: count and a few examples."""
    groups = collections.OrderedDict()
    for o in oddities:
        key = next((k for k, _ in ODDITY_KINDS if k in o), None)
        groups.setdefault(key, []).append(o)
    out = []
    for key, items in groups.items():
        title = dict(ODDITY_KINDS).get(key, "other oddities")
        out.append("%d %s, e.g.:" % (len(items), title))
        for o in items[:examples]:
            out.append("    %s" % (o if len(o) < 400 else o[:400] + "..."))
    return out


def main():
    ap = argparse.ArgumentParser(
        description="single-node soak of ternd under faults (see the top "
        "of this file)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    dflt = os.path.join(TOP, "build", "run", "broker", "ternd")
    ap.add_argument("--ternd", default=dflt if os.access(dflt, os.X_OK)
                    else None, help="the ternd binary (an optimised build)")
    ap.add_argument("--rounds", type=int, default=20, help="rounds")
    ap.add_argument("--seconds", type=float, default=30.0,
                    help="seconds of traffic and faults per round")
    ap.add_argument("--users", type=int, default=20,
                    help="persistent subscribers (half 3.1.1, half 5)")
    ap.add_argument("--publishers", type=int, default=4,
                    help="publishers (both versions, direct and proxied)")
    ap.add_argument("--rate", type=float, default=500.0,
                    help="messages per second, all publishers together")
    ap.add_argument("--window", type=int, default=32,
                    help="unacknowledged messages per publisher at most")
    ap.add_argument("--size", type=int, default=100, help="payload bytes")
    ap.add_argument("--kill-every", type=float, default=6.0,
                    help="mean seconds between kill -9 of ternd (0: none)")
    ap.add_argument("--disk-full", type=float, default=3.0,
                    help="seconds each full-disk window lasts (0: none)")
    ap.add_argument("--disk-fulls", type=int, default=2,
                    help="full-disk windows per round: the first 1-4 s "
                    "into the traffic, the others at random")
    ap.add_argument("--net-every", type=float, default=0.5,
                    help="mean seconds between cuts/stalls of a random "
                    "subscriber's connection (0: none)")
    ap.add_argument("--no-pub-cuts", dest="pub_cuts", action="store_false",
                    help="do not cut the proxied publishers every 3-8 s")
    ap.add_argument("--group-share", type=float, default=0.2,
                    help="fraction of the messages sent to a group "
                    "instead of a user (0: no groups, no group "
                    "subscriptions)")
    ap.add_argument("--groups", type=int, default=0,
                    help="groups (im/g/<k>; user uid in group uid %% G, "
                    "every fifth also in the next); 0: users // 10, at "
                    "least 1")
    ap.add_argument("--group-threshold", type=int, default=4,
                    help="ternd's group_log_threshold (at or below the "
                    "smallest group, so that the group logs are used)")
    ap.add_argument("--away-every", type=float, default=0.5,
                    help="mean seconds between clean disconnects of a "
                    "random user, who stays away 1 to --away s (0: none)")
    ap.add_argument("--away", type=float, default=5.0,
                    help="longest stay away of such a user")
    ap.add_argument("--latency", type=float, default=0.0,
                    help="ms added each way on every proxy")
    ap.add_argument("--pub-linger", type=float, default=0.0,
                    help="publishers stay connected that long after "
                    "their last flow before they disconnect")
    ap.add_argument("--tmpfs-size", default="128m",
                    help="size of the data dir's tmpfs")
    ap.add_argument("--drain", type=float, default=60.0,
                    help="longest wait for the subscribers to drain")
    ap.add_argument("--log-level", default="info", help="ternd's log_level")
    ap.add_argument("--logs", default="/tmp/soak-node-logs",
                    help="where the logs of failing rounds are kept")
    ap.add_argument("--keep-logs", action="store_true",
                    help="keep the logs of every round")
    ap.add_argument("--keep", action="store_true",
                    help="keep the round directories (and the temp dir)")
    ap.add_argument("--seed", type=int, help="random seed (printed)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 2 rounds of 10 s")
    a = ap.parse_args()
    if a.quick:
        a.rounds, a.seconds = 2, 10.0
    if not a.ternd or not os.access(a.ternd, os.X_OK):
        ap.error("no ternd binary (give --ternd PATH)")
    if os.geteuid() != 0:
        ap.error("must run as root (it mounts a tmpfs)")
    if a.users < 1 or a.publishers < 1 or a.rounds < 1:
        ap.error("--users, --publishers and --rounds must be at least 1")
    if not 0 <= a.group_share <= 1 or a.groups < 0:
        ap.error("--group-share must be within 0..1, --groups >= 0")
    if a.group_share == 0:
        a.groups = 0
    elif a.groups == 0:
        a.groups = max(1, a.users // 10)
    sizes = [sum(1 for u in range(a.users) if k in groups_of(u, a.groups))
             for k in range(a.groups)]
    if sizes and a.group_threshold and min(sizes) < a.group_threshold:
        ap.error("the smallest group has %d members, below "
                 "--group-threshold %d: its messages would not use the "
                 "group log" % (min(sizes), a.group_threshold))
    os.environ["TERND"] = os.path.abspath(a.ternd)
    seed = a.seed if a.seed is not None else random.randrange(1 << 31)
    rng = random.Random(seed)
    random.seed(seed)
    run_id = time.strftime("%Y%m%d-%H%M%S")

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)   # also when started ignoring it
    print("soak-node: %s; %d rounds x %gs, %d users, %d publishers, %g "
          "msg/s, kill -9 every ~%gs, disk full %gs, net fault every ~%gs, "
          "%s, away every ~%gs, seed %d"
          % (a.ternd, a.rounds, a.seconds, a.users, a.publishers,
             a.rate, a.kill_every, a.disk_full, a.net_every,
             "%g of the messages to %d groups of %s members "
             "(group_log_threshold %d)" % (a.group_share, a.groups,
                                           "/".join(map(str, sizes)),
                                           a.group_threshold)
             if a.groups else "no groups", a.away_every, seed))
    print(header())
    sys.stdout.flush()
    rows = []
    status = 0
    try:
        for rn in range(1, a.rounds + 1):
            st = run_round(rn, a, rng, run_id)
            rows.append(st)
            print(row(st))
            sys.stdout.flush()
    except KeyboardInterrupt:
        print("soak-node: interrupted")
        status = 1
    except (SetupError, harness.TestFailure, harness.HarnessError) as e:
        print("soak-node: round %d: set-up error: %s"
              % (len(rows) + 1, e))
        traceback.print_exc()
        status = 2
    finally:
        harness._reap_all()
        if harness._tmp_root and not a.keep:
            shutil.rmtree(harness._tmp_root, ignore_errors=True)
    if rows:
        tot = collections.OrderedDict(round="total")
        for k in ("sent", "acked", "gacked", "owed", "refused", "noans",
                  "lost", "q2dup", "q1dup", "order", "unackd", "kills",
                  "full", "full_hit", "cuts", "stalls", "aways", "slost"):
            tot[k] = sum(r[k] for r in rows)
        tot["glog"] = sum((collections.Counter(r["glog"]) for r in rows),
                          collections.Counter())
        tot["oddities"] = [o for r in rows for o in r["oddities"]]
        tot["rate"] = sum(r["rate"] for r in rows) / len(rows)
        print(row(tot))
        for r in rows:
            if r["lost"] or r["q2dup"] or r["oddities"]:
                print("round %d:" % r["round"])
                if r.get("refused_delivered"):
                    print("  %d messages refused with reason 0x80 (v5 "
                          "publishers) were delivered all the same"
                          % r["refused_delivered"])
                if r.get("lost_first_pass") is not None:
                    print("  lost after the first drain: %d, after the "
                          "second: %d" % (r["lost_first_pass"], r["lost"]))
                if r["lost"]:
                    print("  of the %d lost, %d were dropped by the "
                          "subscriber as QoS 2 duplicates because ternd "
                          "reused a packet id it had not released; %d came "
                          "after a graceful restart of ternd (stuck, on "
                          "disk); %d never came"
                          % (r["lost"], r["id_reuse_lost"], r["recovered"],
                             r["lost"] - r["recovered"] -
                             r["id_reuse_lost"]))
                if r.get("dup_note"):
                    print("  " + r["dup_note"])
                for line in summarize(r["oddities"]):
                    print("  " + line)
                if r.get("pub_disconnects"):
                    print("  DISCONNECT reasons to publishers: %s"
                          % dict(r["pub_disconnects"]))
                if r.get("logdir"):
                    print("  logs: %s (summary.txt has every lost and "
                          "duplicated message)" % r["logdir"])
        rd = sum(r.get("refused_delivered", 0) for r in rows)
        if rd:
            print("unackd: %d of the %d were refused (reason >= 0x80) and "
                  "delivered all the same, %d of them QoS 2"
                  % (rd, tot["unackd"],
                     sum(r.get("refused_delivered_q2", 0) for r in rows)))
        if any(r["lost"] or r["q2dup"] for r in rows):
            status = status or 1
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
