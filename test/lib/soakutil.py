"""Soak clients and their accounting (stdlib only, Python 3.11).

Shared by bench/soak-cluster.py and the 31-cluster-fault-*.py tests; the
client code is bench/soak-node.py's (User, Pub, ProxyProcess, count),
copied here and extended for a cluster (soak-node.py itself is left as it
is): a client picks the node (port) it connects to on every connect, so
that it can roam, and records which node it was on.

- ``Timeline``: run-relative clock (and the wall clock of its start, to
  find the same moment in the nodes' logs) and a list of events.
- payloads: ``<msgid>|<sender>|<seq>|<qos>|<uid>|<padding>``; the message
  id is unique per run.
- ``ProxyProcess``: test/lib/faultproxy.py's command line, one process
  holding many proxies, driven by ``cmd("INDEX verb ...")``.
- ``User``: a persistent subscriber of im/u/<uid> at QoS 2 on its own
  thread: storeutil.Receiver's conforming receiving (a QoS 2 PUBLISH is
  delivered to the application when first received, its packet id held
  until the PUBREL; that state outlives reconnects) with reconnects
  (bounded backoff, keep alive), ``roam()`` (disconnect, connect again to
  the node ``pick`` gives) and ``force_reconnect()`` (for the drains).
  When a CONNACK says session present 0 although the user had subscribed
  before, the session was lost: as MQTT requires of a client (3.1.1
  3.2.2.2, 5 3.2.2.1.1) its session state (QoS 2 ids awaiting PUBREL) is
  discarded and the subscription made again; counted in ``session_lost``.
- ``Pub``: a publisher thread sending QoS 1 and QoS 2 (half each) to
  random users at a rate, at most ``window`` unacknowledged, persistent
  session: after a reconnect what was not acknowledged is sent again
  (PUBLISH with DUP, or PUBREL), as MQTT requires. A message counts as
  acknowledged only on PUBACK / PUBREC with reason < 0x80; one refused
  (>= 0x80) is not sent again.
- ``count(users, pubs)``: acknowledged, lost, QoS 2 duplicates, QoS 1
  duplicates, per-sender order inversions, and the details behind them.

Every wait is bounded; threads stop on their ``stop`` event.
"""

import collections
import os
import random
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

LIB = os.path.dirname(os.path.abspath(__file__))
if LIB not in sys.path:
    sys.path.insert(0, LIB)
import harness  # noqa: E402
import mqttraw as raw  # noqa: E402
from storeutil import Receiver, session_props  # noqa: E402

EXPIRY = 3600             # v5 session expiry of every client
KEEPALIVE = 5             # seconds; a PINGREQ when idle that long
PING_TIMEOUT = 4.0        # no packet that long after a PINGREQ: dead
CONNECT_TIMEOUT = 10.0    # TCP connect and CONNACK (a claim may wait for
#                           cluster_sync_timeout, 2 s by default)
BACKOFF_MIN, BACKOFF_MAX = 0.05, 1.0
TRACE = 50000             # packets kept per client for the logs
ERRORS = (OSError, raw.Closed, raw.ProtocolError, AssertionError)


class SetupError(Exception):
    pass


class Dead(Exception):
    pass


def vname(v):
    return "5" if v == raw.V5 else "3.1.1"


class Timeline:
    """Run-relative clock and the list of faults and notable events."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.wall0 = time.time()
        self.lock = threading.Lock()
        self.events = []

    def now(self):
        return time.monotonic() - self.t0

    def wall(self, t):
        """Wall clock (UTC, as in ternd's log) of run time t."""
        w = self.wall0 + t
        return time.strftime("%H:%M:%S", time.gmtime(w)) + \
            ".%03d" % int((w % 1) * 1000)

    def add(self, kind, detail=""):
        with self.lock:
            self.events.append((self.now(), kind, detail))

    def of(self, kind):
        with self.lock:
            return [e for e in self.events if e[1] == kind]


def sleep_unless(ev, secs):
    ev.wait(max(0.0, secs))


def wait_until(cond, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


# --------------------------------------------------------------------------
# payloads: "<msgid>|<sender>|<seq>|<qos>|<uid>|<padding>"

def make_payload(msgid, sender, seq, qos, uid, size):
    p = b"%s|%s|%d|%d|%d|" % (msgid.encode(), sender.encode(), seq, qos,
                              uid)
    if len(p) < size:
        p += b"." * (size - len(p))
    return p


def msgid_of(p):
    if p.type != raw.PUBLISH:
        return ""
    return p.payload.split(b"|", 1)[0].decode(errors="replace")


def parse_payload(b):
    f = b.split(b"|", 5)
    return f[0].decode(), f[1].decode(), int(f[2]), int(f[3]), int(f[4])


# --------------------------------------------------------------------------
# fault proxies, one process (faultproxy.py's command line)

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
    """A persistent subscriber of im/u/<uid> at QoS 2 on its own thread.

    pick(user) -> (port, node label) is called before every connect.
    Receiver (storeutil) does the receiving: a PUBLISH is delivered to the
    application (Receiver.delivered) before it is acknowledged, and QoS 2
    packet ids awaiting PUBREL survive reconnects, so nothing is dropped
    or delivered twice on the client side."""

    def __init__(self, uid, version, tl, pick, prefix="soak"):
        Receiver.__init__(self, 0, "%s-u%02d" % (prefix, uid),
                          version=version, expiry=EXPIRY)
        self.uid = uid
        self.topic = "im/u/%d" % uid
        self.tl = tl
        self.pick = pick
        self.node = None
        self.subscribed = False
        self.stop = threading.Event()
        self.force = threading.Event()
        self.connected = False
        self.got_connack = False
        self.connected_at = 0.0
        self.connects_done = 0     # CONNACKs received (monotonic counter)
        self.last_msg = 0.0
        self.deliv_t = []          # run time of each delivered entry
        self.deliv_node = []       # node it came from (same length)
        self.rel_msg = {}          # QoS 2 packet id -> (msgid, time)
        self.trace = collections.deque(maxlen=TRACE)
        self.events = []           # (run time, text)
        self.connects = 0
        self.roams = 0
        self.session_lost = 0
        self.oddities = []
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=self.client_id)

    def ev(self, text):
        self.events.append((self.tl.now(), text))

    def roam(self):
        """Disconnect and connect again (to the node pick() gives)."""
        if self.connected and not self.force.is_set():
            self.roams += 1
            self.force.set()

    def force_reconnect(self):
        self.force.set()

    def connect(self, clean=False, expect_present=None):
        if self.c is not None:
            self.c.close()
            self.c = None
        if clean:
            self.awaiting_rel.clear()
        self.port, self.node = self.pick(self)
        self.ev("connecting to %s" % self.node)
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
                    self.ev("drop on %s: %s" % (
                        self.node, str(e) or type(e).__name__))
                except Dead as e:
                    self.ev("dead on %s: %s" % (self.node, e))
                self.connected = False
                if self.c is not None:
                    self.c.abort()
                    self.c = None
                if self.stop.is_set():
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
        ack = self.connect(clean=False)
        self.got_connack = True
        self.force.clear()          # this is a fresh connection already
        self.connects += 1
        self.connected_at = time.monotonic()
        present = ack.session_present
        self.ev("connected to %s, session present %d" % (self.node,
                                                          present))
        if not present or not self.subscribed:
            if self.subscribed:
                # the broker lost the session: a conforming client
                # discards its session state (QoS 2 ids awaiting PUBREL)
                self.session_lost += 1
                self.tl.add("session-lost", "%s on %s (%d QoS 2 ids "
                            "awaiting PUBREL discarded)"
                            % (self.client_id, self.node,
                               len(self.awaiting_rel)))
                self.ev("session lost: %d ids awaiting PUBREL discarded"
                        % len(self.awaiting_rel))
                self.awaiting_rel.clear()
                self.rel_msg.clear()
            self.subscribe([(self.topic, 2)])
            self.subscribed = True
            self.ev("subscribed on %s" % self.node)
        self.connected = True
        self.connects_done += 1
        c = self.c
        last_tx = time.monotonic()
        ping_out = None
        while not self.stop.is_set():
            if self.force.is_set():
                self.force.clear()
                self.ev("reconnect (roam or drain)")
                self.connected = False
                c.disconnect()
                self.c = None
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
                               msgid_of(p), self.node))
            if p.type == raw.PINGRESP:
                continue
            if p.type == raw.DISCONNECT:
                raise raw.Closed("DISCONNECT reason %#x" % p.reason)
            if p.type in (raw.PUBLISH, raw.PUBREL):
                self.last_msg = time.monotonic()
            if p.type == raw.PUBLISH and p.topic != self.topic:
                self.oddities.append("PUBLISH on %r" % p.topic)
            self.handle(p)
            last_tx = time.monotonic()

    def handle(self, p, ack=True):
        msgid = None
        if p.type == raw.PUBLISH and p.qos == 2 and \
                p.mid in self.awaiting_rel and p.mid in self.rel_msg:
            msgid = msgid_of(p)
            old, t = self.rel_msg[p.mid]
            if msgid != old:
                # a conforming receiver takes it for a duplicate of the
                # message it has not seen the PUBREL of: lost for the
                # application; the broker reused an id still in a flow
                self.oddities.append(
                    "%s: packet id %d reused for %s (dup %d) on %s while "
                    "%s (PUBREC at %.3f) awaited PUBREL; the new message "
                    "is dropped as a duplicate" % (
                        self.client_id, p.mid, msgid, p.dup, self.node,
                        old, t))
                self.tl.add("id-reuse", "%s id %d %s -> %s on %s"
                            % (self.client_id, p.mid, old, msgid,
                               self.node))
        before = len(self.delivered)
        try:
            return Receiver.handle(self, p, ack)
        finally:
            # also when sending the ack failed: the message was delivered
            # to the application before it (Receiver.handle)
            if len(self.delivered) > before:
                self.deliv_t.append(self.tl.now())
                self.deliv_node.append(self.node)
                if p.qos == 2:
                    self.rel_msg[p.mid] = (msgid_of(p), self.tl.now())

    def quiet(self, quiet, since_connects=None):
        """Connected (after the drain's reconnect: connects_done past
        since_connects), and no PUBLISH or PUBREL for quiet seconds. A
        QoS 2 flow the broker never releases is reported at the end, not
        waited for."""
        if since_connects is not None and \
                self.connects_done <= since_connects:
            return False
        return (self.connected and not self.force.is_set() and
                time.monotonic() - max(self.last_msg, self.connected_at)
                >= quiet)

    def state(self):
        return ("%s: connected %s to %s, %.1fs since the last PUBLISH/"
                "PUBREL, %d awaiting PUBREL" % (
                    self.client_id, self.connected, self.node,
                    time.monotonic() - max(self.last_msg, self.connected_at),
                    len(self.awaiting_rel)))

    def unreleased(self):
        """QoS 2 flows still awaiting PUBREL: (packet id, message id,
        run time of the PUBREC)."""
        return [(mid,) + self.rel_msg.get(mid, ("?", -1.0))
                for mid in sorted(self.awaiting_rel)]


# --------------------------------------------------------------------------
# publishers

class Rec:
    __slots__ = ("msgid", "sender", "seq", "qos", "uid", "t_sent", "t_ack",
                 "reason", "acked", "refused", "stage", "sends",
                 "rel_resent", "node")

    def __init__(self, msgid, sender, seq, qos, uid, t, node):
        self.msgid, self.sender, self.seq = msgid, sender, seq
        self.qos, self.uid, self.t_sent = qos, uid, t
        self.node = node           # where it was first sent
        self.t_ack = None
        self.reason = None
        self.acked = self.refused = False
        self.stage = "sent"
        self.sends = 1
        self.rel_resent = False


class Pub:
    """A publisher thread. pick(pub) -> (port, node label) before every
    connect; users: how many users (im/u/0 .. im/u/<users-1>)."""

    def __init__(self, idx, version, rate, seed, tl, run_tag, users, pick,
                 size=100, window=32, prefix="soak"):
        self.name = "p%d" % idx
        self.cid = "%s-p%d" % (prefix, idx)
        self.version = version
        self.pick = pick
        self.port = None
        self.node = None
        self.interval = 1.0 / rate if rate > 0 else 1e9
        self.rng = random.Random(seed)
        self.tl, self.run_tag = tl, run_tag
        self.nusers, self.size = users, size
        self.window = window
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
                    self.ev("drop on %s: %s" % (
                        self.node, str(e) or type(e).__name__))
                except Dead as e:
                    self.ev("dead on %s: %s" % (self.node, e))
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
        self.port, self.node = self.pick(self)
        self.c = c = raw.Client(self.port, version=v,
                                timeout=CONNECT_TIMEOUT)
        ack = c.connect(self.cid, clean=False, keepalive=KEEPALIVE,
                        properties=session_props(v, EXPIRY))
        self.got_connack = True
        self.connected_at = time.monotonic()
        present = ack.session_present
        if self.connects and not present:
            self.session_lost += 1
            self.tl.add("session-lost", "%s on %s" % (self.cid, self.node))
            # the broker forgot the flows: what was acknowledged (PUBREC)
            # needs nothing more; the rest is published again below
            for mid in [m for m, r in self.inflight.items()
                        if r.stage == "released"]:
                del self.inflight[mid]
        self.connects += 1
        self.ev("connected to %s, session present %d" % (self.node,
                                                          present))
        window = self.window
        if v == raw.V5:
            window = min(window, ack.props.get("receive_maximum", 65535))
        # resend, in order, what was not acknowledged (MQTT 4.4)
        for mid, r in self.inflight.items():
            self.trace.append((self.tl.now(), "resend-" + r.stage, mid,
                               1, r.msgid, self.node))
            if r.stage == "sent":
                r.sends += 1
                c.send(raw.publish("im/u/%d" % r.uid, self._payload(r),
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
        return make_payload(r.msgid, self.name, r.seq, r.qos, r.uid,
                            self.size)

    def _send_new(self, c):
        self.seq += 1
        uid = self.rng.randrange(self.nusers)
        qos = self.rng.choice((1, 2))
        r = Rec("%s-%s-%d" % (self.run_tag, self.name, self.seq), self.name,
                self.seq, qos, uid, self.tl.now(), self.node)
        mid = self._mid()
        self.records.append(r)
        self.inflight[mid] = r
        self.trace.append((r.t_sent, "PUBLISH", mid, 0, r.msgid, self.node))
        c.send(raw.publish("im/u/%d" % uid, self._payload(r), qos=qos,
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
                           p.mid, 0, r.msgid if r is not None else "?",
                           self.node))
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
            r.node = self.node
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
                # legal: the PUBREL had reached the broker before the
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
# counting

def count(users, pubs):
    """The promise, counted: acknowledged messages (PUBACK / PUBREC with
    reason < 0x80) delivered to their user's application at least once
    (lost otherwise), QoS 2 ones at most once."""
    recs = {}
    for p in pubs:
        for r in p.records:
            recs[r.msgid] = r
    acked = {m for m, r in recs.items() if r.acked}
    deliveries = collections.Counter()
    order = 0
    oddities = []
    where = {}
    for u in users:
        if not (len(u.delivered) == len(u.deliv_t) == len(u.deliv_node)):
            oddities.append("%s: bookkeeping of this script is off (%d "
                            "deliveries, %d times, %d nodes)" % (
                                u.client_id, len(u.delivered),
                                len(u.deliv_t), len(u.deliv_node)))
        seen = set()
        last = {}
        for (topic, payload, qos, mid, dup), t, node in zip(
                u.delivered, u.deliv_t, u.deliv_node):
            try:
                msgid, sender, seq, pq, uid = parse_payload(payload)
            except (ValueError, IndexError):
                oddities.append("%s: bad payload %r" % (u.client_id,
                                                        payload[:60]))
                continue
            if uid != u.uid:
                oddities.append("%s got %s meant for user %d"
                                % (u.client_id, msgid, uid))
            deliveries[msgid] += 1
            where.setdefault(msgid, []).append((u.client_id, t, node, qos,
                                                mid, dup))
            if msgid in seen:
                continue
            seen.add(msgid)
            if seq < last.get(sender, 0):
                order += 1
            last[sender] = max(seq, last.get(sender, 0))
    # a PUBLISH taken for a QoS 2 duplicate although its message was never
    # delivered: the broker reused a packet id still in a QoS 2 flow (see
    # User.handle), so the message is lost for the application
    dropped = {}
    for u in users:
        for p in u.dups:
            m = msgid_of(p)
            if m not in where:
                dropped.setdefault(m, (u.client_id, p.mid))
    lost = sorted(acked - set(deliveries), key=lambda m: recs[m].t_ack)
    # safety net: a lost message must not be in its subscriber's packet
    # trace (received but not counted would be this script's fault)
    by_uid = {u.uid: u for u in users}
    for m in lost:
        u = by_uid.get(recs[m].uid)
        if u is None:
            continue
        seen = [x[0] for x in list(u.trace)
                if x[1] == "PUBLISH" and x[4] == m]
        if seen and m not in dropped:
            oddities.append("%s: %s counted lost but a PUBLISH of it was "
                            "received at %s (this script's fault)"
                            % (u.client_id, m, seen))
    q2dup = sorted(m for m, n in deliveries.items()
                   if n > 1 and m in recs and recs[m].qos == 2)
    q1dup = [m for m, n in deliveries.items()
             if n > 1 and m in recs and recs[m].qos == 1]
    unknown = [m for m in deliveries if m not in recs]
    if unknown:
        oddities.append("%d delivered message ids never sent, e.g. %s"
                        % (len(unknown), unknown[:3]))
    return {"acked": len(acked),
            "sent": len(recs),
            "refused": sum(1 for r in recs.values() if r.refused),
            "noans": sum(1 for r in recs.values()
                         if not r.acked and not r.refused),
            "lost": len(lost), "q2dup": len(q2dup), "q1dup": len(q1dup),
            "order": order,
            "unackd": sum(1 for m in deliveries if m in recs and
                          not recs[m].acked),
            "lost_ids": lost, "q2dup_ids": q2dup, "where": where,
            "dropped": dropped,
            "id_reuse_lost": sum(1 for m in lost if m in dropped),
            "recs": recs, "oddities": oddities}


def describe(msgid, res, users, pubs, tl, extra=None, window=5.0):
    """Lines about one lost or duplicated message: who sent it where,
    when it was acknowledged, where and when it was delivered, what its
    user and publisher did around then. extra(msgid, rec, user) may add
    lines (e.g. from the nodes' logs)."""
    r = res["recs"][msgid]
    p = next(x for x in pubs if x.name == r.sender)
    u = next(x for x in users if x.uid == r.uid)
    lines = ["%s: QoS %d from %s (v%s) on %s to %s (v%s); sent %.3f, "
             "acknowledged %.3f (%s UTC) reason %#x, transmissions %d"
             % (msgid, r.qos, p.cid, vname(p.version), r.node,
                u.client_id, vname(u.version), r.t_sent, r.t_ack or -1,
                tl.wall(r.t_ack or r.t_sent), r.reason or 0, r.sends)]
    if msgid in res["dropped"]:
        lines.append("  received by %s with packet id %d, which the broker "
                     "had not released (QoS 2 flow awaiting PUBREL): "
                     "dropped as a duplicate, as MQTT 4.3.3 requires"
                     % res["dropped"][msgid])
    d = res["where"].get(msgid)
    if d:
        lines.append("  delivered: %s" % ", ".join(
            "%s at %.3f from %s (QoS %d, packet id %s, dup %d)" % x
            for x in d))
    ref = r.t_ack or r.t_sent
    lines.append("  %s around it: %s" % (u.client_id, "; ".join(
        "%.3f %s" % e for e in u.events
        if ref - window <= e[0] <= ref + window)
        or "nothing"))
    if d:
        for x in d[1:]:
            lines.append("  %s around the delivery at %.3f: %s" % (
                u.client_id, x[1], "; ".join(
                    "%.3f %s" % e for e in u.events
                    if x[1] - 3 <= e[0] <= x[1] + 1) or "nothing"))
    lines.append("  %s around it: %s" % (p.cid, "; ".join(
        "%.3f %s" % e for e in p.events if ref - 3 <= e[0] <= ref + 3)
        or "nothing"))
    if extra is not None:
        lines += extra(msgid, r, u)
    return "\n".join(lines)


def unreleased_oddities(users):
    out = []
    for u in users:
        left = u.unreleased()
        if left:
            out.append("%s: %d QoS 2 flows never released by the broker "
                       "(no PUBREL after PUBREC, across reconnects): %s" % (
                           u.client_id, len(left), ", ".join(
                               "id %d %s PUBREC at %.3f" % x
                               for x in left[:5])))
    return out
