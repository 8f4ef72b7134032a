"""Helpers for the durable store tests (test/integration/11-store-*.py).

Stdlib only; built on harness.py and mqttraw.py without changing them:

- ``store_only()``: the store tests are tern-only (mosquitto loses
  acknowledged messages on a crash);
- ``Publisher``: a raw publisher that pipelines QoS 1/2 PUBLISHes and
  records which ones the broker acknowledged (PUBACK, or PUBREC for
  QoS 2), with their reason codes;
- ``Receiver``: a conforming receiver whose state (QoS 2 packet ids
  awaiting PUBREL, what it delivered to the application) outlives its
  connections, as a persistent client's does, so that a redelivery after a
  crash is judged the way a real client would judge it;
- ``crash(b)``: kill -9 and restart on the same data dir and port;
- ``fail_commits(n)``: TERN_TEST_FAIL_COMMITS for the next broker start;
- ``crash_offline_subscribers(qos, n)``: the body of
  11-store-crash-qos1.py and 11-store-crash-qos2.py, which differ only in
  the QoS;
- ``small_disk(brokers, b, size)``: a tmpfs of that size on the data
  dir of b (one of a cluster's nodes, say), mounted by the test (root
  only) and unmounted at the end; ``small_disk_broker(size)``: the same
  for a single broker;
  ``SmallDisk.fill()`` / ``free()`` make it full and free it again, so
  that the store's commits fail the way they do on a full disk;
- file helpers for the data dir's tern.db.

Synchronisation is on conditions only (acks, packets, the ready file),
each wait bounded.
"""

import contextlib
import errno
import hashlib
import os
import socket
import subprocess
import time

import mqttraw as raw
from harness import (Broker, Skip, TestFailure, check, check_eq, log, run,
                     tern_only)

SESSION_EXPIRY = 300
DB_NAME = "tern.db"


def store_only():
    tern_only("durable store (mosquitto loses acknowledged messages on a "
              "crash)")


def session_props(version, expiry=SESSION_EXPIRY):
    """CONNECT properties of a persistent session (v5: session expiry)."""
    if version == raw.V5:
        return {"session_expiry_interval": expiry}
    return None


def vname(version):
    return {raw.V311: "3.1.1", raw.V5: "5", raw.V31: "3.1"}[version]


def connect_persistent(port, client_id, version, expiry=SESSION_EXPIRY,
                       clean=False, expect_present=None):
    """A raw client connected with clean start/session 0 (or clean) and a
    session expiry (v5). Checks session present when expect_present is
    not None."""
    c = raw.Client(port, version=version)
    ack = c.connect(client_id, clean=clean,
                    properties=session_props(version, expiry))
    if expect_present is not None:
        check_eq(ack.session_present, expect_present,
                 "v%s %s: CONNACK session present" % (vname(version),
                                                     client_id))
    return c


def crash(b):
    """kill -9 the broker and start it again on the same port and data
    dir; returns when the new one has written its ready file."""
    check(b.alive(), "broker still running before the kill -9 (exit "
          "status %r)" % (b.proc.poll(),))
    pid = b.pid
    b.restart(graceful=False)
    log("kill -9 of pid %d; restarted as pid %d" % (pid, b.pid))
    return b


@contextlib.contextmanager
def fail_commits(n):
    """Set TERN_TEST_FAIL_COMMITS=n for the brokers started inside."""
    old = os.environ.get("TERN_TEST_FAIL_COMMITS")
    os.environ["TERN_TEST_FAIL_COMMITS"] = str(n)
    try:
        yield
    finally:
        if old is None:
            del os.environ["TERN_TEST_FAIL_COMMITS"]
        else:
            os.environ["TERN_TEST_FAIL_COMMITS"] = old


class SmallDisk:
    """A tmpfs mounted on path. fill() writes a file until the filesystem
    is full (ENOSPC); free() deletes it."""

    def __init__(self, path):
        self.path = path
        self.filler = os.path.join(path, "filler")

    def fill(self):
        n = 0
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                     0o600)
        try:
            for size in (1 << 20, 65536, 4096, 512, 1):
                while True:
                    try:
                        n += os.write(fd, b"\0" * size)
                    except OSError as e:
                        if e.errno != errno.ENOSPC:
                            raise
                        break
        finally:
            os.close(fd)
        log("disk %s full (%d bytes written)" % (self.path, n))
        return n

    def free(self):
        try:
            os.unlink(self.filler)
        except FileNotFoundError:
            pass
        log("disk %s freed" % self.path)


@contextlib.contextmanager
def small_disk(brokers, b, size="8m"):
    """Mount a tmpfs of size on the data dir of b (one of brokers, none
    started yet); yields its SmallDisk. At the end, whatever happens,
    every broker still running is killed and the tmpfs unmounted. Skips
    when not root. A tmpfs smaller than the store's 32 MiB
    autocheckpoint keeps the WAL growing, so every commit needs new space
    and fails while the disk is full."""
    if os.geteuid() != 0:
        raise Skip("mounting a tmpfs needs root")
    os.makedirs(b.data_dir, exist_ok=True)
    r = run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs",
             b.data_dir], timeout=10.0)
    if r.rc != 0:
        raise Skip("cannot mount a tmpfs: %s" % r.err.strip())
    disk = SmallDisk(b.data_dir)
    try:
        yield disk
    finally:
        for x in brokers:
            try:
                if x.proc is not None and x.alive():
                    x.kill9()
            except Exception:
                pass
        disk.free()
        subprocess.run(["umount", b.data_dir], timeout=10)


@contextlib.contextmanager
def small_disk_broker(size="8m", **kw):
    """A Broker (started) whose data dir is a tmpfs of size (small_disk);
    yields (broker, SmallDisk)."""
    b = Broker(start=False, **kw)
    with small_disk([b], b, size) as disk:
        b.start()
        yield b, disk


def db_path(b):
    return os.path.join(b.data_dir, DB_NAME)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(65536), b""):
            h.update(chunk)
    return h.hexdigest()


def data_files(b):
    """Names in the data dir with their sizes (for logs)."""
    try:
        names = sorted(os.listdir(b.data_dir))
    except OSError:
        return {}
    out = {}
    for n in names:
        try:
            out[n] = os.path.getsize(os.path.join(b.data_dir, n))
        except OSError:
            out[n] = None
    return out


# --------------------------------------------------------------------------
# publisher

class Publisher:
    """A raw publisher. publish_acked() sends a list of PUBLISHes with at
    most ``window`` unacknowledged and waits for every acknowledgement.

    acked: payloads the broker acknowledged with success (PUBACK, or
    PUBREC for QoS 2; reason < 0x80), in the order of the acks.
    refused: (payload, reason) answered with a failure reason (v5)."""

    def __init__(self, port, client_id, version=raw.V311, clean=True,
                 expiry=None):
        self.version = version
        self.client_id = client_id
        self.c = raw.Client(port, version=version)
        props = None
        if version == raw.V5 and expiry:
            props = {"session_expiry_interval": expiry}
        self.connack = self.c.connect(client_id, clean=clean,
                                      properties=props)
        self.next_mid = 0
        self.acked = []
        self.refused = []
        self.reasons = {}

    def _mid(self):
        self.next_mid = self.next_mid % 65535 + 1
        return self.next_mid

    def publish_acked(self, topic, payloads, qos=1, window=16, timeout=5.0,
                      properties=None, retain=False, complete=True):
        """Publish every payload (bytes) at qos; wait for each PUBACK
        (QoS 1) or PUBREC (QoS 2) and, when complete, finish QoS 2 with
        PUBREL/PUBCOMP. Fails on a timeout or a closed connection."""
        c = self.c
        # A v5 client keeps to the Receive Maximum of the CONNACK (the
        # node closes one that does not, 0x93).
        rm = (self.connack.props or {}).get("receive_maximum") \
            if self.connack is not None else None
        if rm:
            window = min(window, rm)
        todo = list(payloads)
        out = {}           # mid -> (payload, stage)
        i = 0
        deadline = time.monotonic() + timeout + 0.05 * len(todo)
        while i < len(todo) or out:
            while i < len(todo) and len(out) < window:
                mid = self._mid()
                c.send(raw.publish(topic, todo[i], qos=qos, mid=mid,
                                   retain=retain, version=self.version,
                                   properties=properties))
                out[mid] = (todo[i], "sent")
                i += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure("publisher %s: %d acks missing after "
                                  "%.1fs (acked %d of %d)"
                                  % (self.client_id, len(out), timeout,
                                     len(self.acked), len(todo)))
            try:
                p = c.recv(left)
            except socket.timeout:
                continue
            except raw.Closed:
                raise TestFailure("publisher %s: connection closed with "
                                  "%d acks missing (acked %d of %d)"
                                  % (self.client_id, len(out),
                                     len(self.acked), len(todo)))
            if p.type not in (raw.PUBACK, raw.PUBREC, raw.PUBCOMP) or \
                    p.mid not in out:
                raise TestFailure("publisher %s: unexpected %r"
                                  % (self.client_id, p))
            payload, stage = out[p.mid]
            want = {1: raw.PUBACK, 2: raw.PUBREC}[qos] if stage == "sent" \
                else raw.PUBCOMP
            check_eq(raw.NAMES[p.type], raw.NAMES[want],
                     "publisher %s: ack of packet id %d"
                     % (self.client_id, p.mid))
            reason = p.reason or 0
            if stage == "sent":
                self.reasons[payload] = reason
                if reason >= 0x80:
                    self.refused.append((payload, reason))
                    del out[p.mid]
                    continue
                self.acked.append(payload)
                if qos == 1 or not complete:
                    del out[p.mid]
                else:
                    c.send(raw.pubrel(p.mid, version=self.version))
                    out[p.mid] = (payload, "released")
            else:
                check_eq(reason, 0, "publisher %s: PUBCOMP reason"
                         % self.client_id)
                del out[p.mid]
        return self.acked

    def publish_one(self, topic, payload, qos=1, **kw):
        """Publish one message; return its ack reason code (0 success)."""
        self.publish_acked(topic, [payload], qos=qos, window=1, **kw)
        return self.reasons[payload]

    def close(self):
        self.c.disconnect()


def payloads(prefix, n, size=0):
    """n distinct payloads b'<prefix>-0000'..., padded to size bytes."""
    out = []
    for i in range(n):
        p = b"%s-%04d" % (prefix.encode(), i)
        if len(p) < size:
            p += b"." * (size - len(p))
        out.append(p)
    return out


# --------------------------------------------------------------------------
# receiver

class Receiver:
    """A conforming receiver (MQTT 4.3.3 method B / 4.4) whose state
    survives reconnects: a QoS 2 PUBLISH is delivered to the application
    when first received, its packet id is then held until the PUBREL; a
    PUBLISH with a held id is a duplicate (PUBREC again, not delivered).

    delivered: (topic, payload, qos, packet id, dup) delivered to the
    application. dups: PUBLISH packets recognised as QoS 2 duplicates.
    log: every packet received, for failure messages."""

    def __init__(self, port, client_id, version=raw.V311,
                 expiry=SESSION_EXPIRY):
        self.port = port
        self.client_id = client_id
        self.version = version
        self.expiry = expiry
        self.c = None
        self.awaiting_rel = set()
        self.delivered = []
        self.dups = []
        self.pubrels = []
        self.own_acks = []     # acks of the receiver's own publishes
        self.packets = []
        self.connack = None

    def connect(self, clean=False, expect_present=None):
        if self.c is not None:
            self.c.close()
        if clean:
            self.awaiting_rel.clear()
        self.c = raw.Client(self.port, version=self.version)
        self.connack = self.c.connect(
            self.client_id, clean=clean,
            properties=session_props(self.version, self.expiry))
        if expect_present is not None:
            check_eq(self.connack.session_present, expect_present,
                     "v%s %s: CONNACK session present"
                     % (vname(self.version), self.client_id))
        return self.connack

    def subscribe(self, topics, mid=1, properties=None):
        ack = self.c.subscribe(topics, mid=mid, properties=properties)
        for code in ack.codes:
            check(code < 0x80, "%s: SUBACK refused %r" % (self.client_id,
                                                           ack.codes))
        return ack

    def recv(self, timeout=3.0):
        """The next packet, not acknowledged (recorded in packets)."""
        p = self.c.recv(timeout)
        self.packets.append(p)
        return p

    def handle(self, p, ack=True):
        """Process p as a conforming receiver; returns True if it was a new
        delivery to the application."""
        v = self.version
        if p.type == raw.PUBLISH:
            if p.qos == 2 and p.mid in self.awaiting_rel:
                self.dups.append(p)
                if ack:
                    self.c.send(raw.pubrec(p.mid, version=v))
                return False
            self.delivered.append((p.topic, p.payload, p.qos, p.mid,
                                   p.dup))
            if ack:
                if p.qos == 1:
                    self.c.send(raw.puback(p.mid, version=v))
                elif p.qos == 2:
                    self.awaiting_rel.add(p.mid)
                    self.c.send(raw.pubrec(p.mid, version=v))
            return True
        if p.type == raw.PUBREL:
            self.pubrels.append(p.mid)
            self.awaiting_rel.discard(p.mid)
            if ack:
                self.c.send(raw.pubcomp(p.mid, version=v))
            return False
        if p.type in (raw.PUBACK, raw.PUBREC, raw.PUBCOMP):
            self.own_acks.append((p.type, p.mid, p.reason))
            if p.type == raw.PUBREC and ack:
                self.c.send(raw.pubrel(p.mid, version=v))
            return False
        raise TestFailure("%s: unexpected %r" % (self.client_id, p))

    def run_until(self, cond, timeout=5.0, what="messages"):
        """Receive and acknowledge until cond(self) is true."""
        deadline = time.monotonic() + timeout
        while not cond(self):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure(
                    "%s: timed out after %.1fs waiting for %s (delivered "
                    "%d: %s; last packets %r)"
                    % (self.client_id, timeout, what, len(self.delivered),
                       summary(self.payloads()), self.packets[-5:]))
            try:
                p = self.recv(left)
            except socket.timeout:
                continue
            except raw.Closed:
                raise TestFailure("%s: connection closed while waiting for "
                                  "%s (delivered %d)"
                                  % (self.client_id, what,
                                     len(self.delivered)))
            self.handle(p)

    def receive_until_payload(self, payload, timeout=5.0):
        """Receive until payload is delivered; returns the payloads
        delivered before it (this call only)."""
        start = len(self.delivered)
        self.run_until(lambda r: any(d[1] == payload
                                     for d in r.delivered[start:]),
                       timeout, "payload %r" % payload)
        got = [d[1] for d in self.delivered[start:]]
        return got[:got.index(payload)]

    def wait_payload(self, payload, timeout=5.0):
        """Receive and acknowledge until payload has been delivered and
        no QoS 2 flow is left open (every PUBREL received)."""
        self.run_until(lambda r: payload in r.payloads() and
                       not r.awaiting_rel, timeout,
                       "payload %r and the PUBRELs" % payload)

    def receive_n(self, n, timeout=5.0):
        start = len(self.delivered)
        self.run_until(lambda r: len(r.delivered) - start >= n, timeout,
                       "%d messages" % n)
        return self.delivered[start:start + n]

    def payloads(self):
        return [d[1] for d in self.delivered]

    def expect_quiet(self, timeout=0.3):
        """Nothing (no PUBLISH, no PUBREL) arrives within timeout."""
        try:
            p = self.recv(timeout)
        except socket.timeout:
            return
        except raw.Closed:
            raise TestFailure("%s: connection closed" % self.client_id)
        raise TestFailure("%s: unexpected %r" % (self.client_id, p))

    def disconnect(self):
        if self.c is not None:
            self.c.disconnect()
            self.c = None

    def abort(self):
        if self.c is not None:
            self.c.abort()
            self.c = None

    def end_session(self):
        """Connect with clean start and a zero expiry, then disconnect:
        the session is gone."""
        self.disconnect()
        c = raw.Client(self.port, version=self.version)
        c.connect(self.client_id, clean=True)
        c.disconnect()


def summary(pl, n=6):
    """A short text of a payload list for failure messages."""
    pl = list(pl)
    if len(pl) <= 2 * n:
        return repr(pl)
    return "%r ... %r" % (pl[:n], pl[-n:])


def check_in_order_once(got, want, what):
    """got must equal want (same messages, same order, no duplicates);
    the failure message says what is missing, duplicated or reordered."""
    if got == want:
        return
    missing = [w for w in want if w not in got]
    dups = sorted({g for g in got if got.count(g) > 1})
    extra = [g for g in got if g not in want]
    raise TestFailure("%s: got %d, expected %d; missing %d %s; duplicated "
                      "%s; unexpected %s; got %s"
                      % (what, len(got), len(want), len(missing),
                         summary(missing, 3), summary(dups, 3),
                         summary(extra, 3), summary(got)))



def crash_offline_subscribers(qos, n):
    """Messages at ``qos`` (1 or 2) acknowledged while persistent
    subscribers (3.1.1 clean session 0, v5 clean start 0 with a session
    expiry) are offline survive kill -9 of ternd: after the restart each
    subscriber resumes with session present 1 and gets every one of them,
    in order, each once, before anything published later. ``n`` messages
    per publisher; two publishers (3.1.1 and v5)."""
    store_only()
    with Broker() as b:
        subs = [Receiver(b.port, "crash-q%d-sub-%d" % (qos, v), version=v)
                for v in (raw.V311, raw.V5)]
        for r in subs:
            r.connect(clean=False, expect_present=0)
            r.subscribe([("crash/q%d/+" % qos, qos)])
            r.disconnect()

        want = []
        pubs = []      # left connected through the kill
        for v in (raw.V311, raw.V5):
            p = Publisher(b.port, "crash-q%d-pub-%d" % (qos, v), version=v)
            pubs.append(p)
            pl = payloads("v%d" % v, n, size=40 if v == raw.V311 else 700)
            acked = p.publish_acked("crash/q%d/%d" % (qos, v), pl, qos=qos)
            check_eq(len(acked), n, "v%d publisher: messages acknowledged"
                     % v)
            want += acked
        crash(b)

        for r in subs:
            r.connect(clean=False, expect_present=1)
            got = r.receive_n(2 * n, timeout=8.0)
            check_in_order_once([d[1] for d in got], want,
                                "%s after kill -9" % r.client_id)
            check(all(d[2] == qos for d in got), "delivered at QoS %d"
                  % qos)
        # nothing else is queued: a message published now comes next
        p = Publisher(b.port, "crash-q%d-marker" % qos)
        p.publish_one("crash/q%d/marker" % qos, b"marker", qos=qos)
        p.close()
        for r in subs:
            r.wait_payload(b"marker")
            check_eq(len(r.delivered), 2 * n + 1, "%s: deliveries"
                     % r.client_id)
            check_eq(r.dups, [], "%s: QoS 2 duplicates" % r.client_id)
            r.expect_quiet(0.2)
            r.end_session()
