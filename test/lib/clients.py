"""Helpers for the tests of tern-pub and tern-sub (test/integration/20-*).

- ``tern_pub(...)`` / ``TernSub(...)``: run the built clients
  ($TERN_BUILDDIR/clients/tern-pub, tern-sub) with bounded waits;
- ``FakeBroker``: a scripted MQTT server on 127.0.0.1:0 (stdlib only, one
  thread) for what a real ternd cannot show: a CONNACK that allows topic
  aliases, a refusal with a reason string, the exact PUBLISH packets a
  client sent.

Stdlib only; builds on harness.py and mqttraw.py.
"""

import os
import socket
import subprocess
import threading
import time

import mqttraw as raw
from harness import (HOST, HarnessError, Skip, TestFailure, check, run,
                     spawn, tmp_path, wait_for)


def client_path(name):
    """Path of a built client (tern-pub, tern-sub); skips the test when
    it has not been built (e.g. a partial build)."""
    bd = os.environ.get("TERN_BUILDDIR")
    if not bd:
        raise HarnessError("TERN_BUILDDIR is not set")
    p = os.path.join(bd, "clients", name)
    if not os.access(p, os.X_OK):
        raise Skip("%s is not built (%s)" % (name, p))
    return p


def vflag(version):
    return {4: "mqttv311", 5: "mqttv5", 3: "mqttv31"}[version]


def tern_pub(port, args, version=4, input=None, timeout=10.0, check_rc=0,
             host=HOST):
    """Run tern-pub -h host -p port -V version ARGS; returns a Result and
    fails when the exit status is not check_rc (None: any)."""
    cmd = [client_path("tern-pub"), "-h", host, "-p", str(port),
           "-V", vflag(version)] + list(args)
    return run(cmd, timeout=timeout, input=input, check_rc=check_rc)


def tern_cmd(name, args, timeout=10.0, input=None, check_rc=None):
    """Run a client with exactly ARGS (no -h/-p added)."""
    return run([client_path(name)] + list(args), timeout=timeout,
               input=input, check_rc=check_rc)


class TernSub:
    """tern-sub running in the background, stdout and stderr to files.

    wait_ready() waits for the SUBACK (tern-sub -d prints
    "received SUBACK" on stderr), lines()/wait_lines() read stdout,
    finish() waits for the exit status."""

    _n = 0

    def __init__(self, port, topics, args=(), version=4, qos=0,
                 name="tern-sub", debug=True):
        if isinstance(topics, str):
            topics = [topics]
        TernSub._n += 1
        base = tmp_path("%s.%d" % (name, TernSub._n))
        self.out_path = base + ".out"
        self.err_path = base + ".err"
        cmd = [client_path("tern-sub"), "-h", HOST, "-p", str(port),
               "-V", vflag(version), "-q", str(qos)]
        if debug:
            cmd.append("-d")
        for t in topics:
            cmd += ["-t", t]
        cmd += list(args)
        self.cmd = cmd
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.proc = spawn(cmd, stdout=self._out, stderr=self._err)

    def _read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def out(self):
        return self._read(self.out_path).decode(errors="replace")

    def out_bytes(self):
        return self._read(self.out_path)

    def err(self):
        return self._read(self.err_path).decode(errors="replace")

    def lines(self):
        return self.out().splitlines()

    def wait_ready(self, timeout=5.0):
        def ready():
            if self.proc.poll() is not None:
                raise TestFailure("tern-sub exited early (%r)\nstdout: %s\n"
                                  "stderr: %s" % (self.proc.returncode,
                                                  self.out(), self.err()))
            return "received SUBACK" in self.err()
        wait_for(ready, timeout, "tern-sub SUBACK")
        return self

    def wait_lines(self, n, timeout=5.0):
        try:
            wait_for(lambda: len(self.lines()) >= n, timeout,
                     "%d lines from tern-sub" % n)
        except TestFailure as e:
            raise TestFailure("%s (got %d)\nstdout: %s\nstderr: %s"
                              % (e, len(self.lines()), self.out()[-2000:],
                                 self.err()[-2000:]))
        return self.lines()

    def finish(self, timeout=15.0):
        """Wait for tern-sub to exit by itself (-C, -W, -E); returns the
        exit status."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TestFailure("tern-sub did not exit within %.0fs\nstdout: "
                              "%s\nstderr: %s" % (timeout, self.out(),
                                                  self.err()))
        self._close()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._close()

    def _close(self):
        for f in (self._out, self._err):
            if not f.closed:
                f.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.kill()
        return False


def check_no_sanitizer_report(text, what):
    """Fail when a client's stderr holds an ASan/LSan/UBSan report."""
    for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                "runtime error:"):
        check(bad not in text, "sanitizer report in %s stderr:\n%s"
              % (what, text))


# --------------------------------------------------------------------------
# a scripted MQTT server

def parse_subscribe(p, version):
    """Decode a SUBSCRIBE packet in place: p.mid, p.props and
    p.fields["filters"] = [(filter, options byte), ...]."""
    r = raw.Reader(p.body)
    p.mid = r.u16()
    if version == raw.V5:
        p.props = r.props()
    filters = []
    while r.left():
        f = r.str()
        filters.append((f, r.byte()))
    p.fields["filters"] = filters
    return p


class FakeBroker:
    """A one-thread MQTT server on 127.0.0.1 (port 0) for client tests.

    connack_rc / connack_props: what the CONNACK says (v5 properties as
    mqttraw names, e.g. {"topic_alias_maximum": 10, "reason_string": ..}).
    disconnect_after: send a v5 DISCONNECT (rc, props) after this many
    PUBLISH packets. Every packet received is kept in .packets (decoded by
    mqttraw with the client's version); QoS 1/2 PUBLISHes are acknowledged.
    """

    def __init__(self, connack_rc=0, connack_props=None,
                 disconnect_after=None, disconnect=None, suback_codes=None,
                 suback_props=None, puback_rc=0, puback_props=None):
        self.connack_rc = connack_rc
        self.connack_props = connack_props
        self.suback_codes = suback_codes
        self.suback_props = suback_props
        self.puback_rc = puback_rc
        self.puback_props = puback_props
        self.disconnect_after = disconnect_after
        self.disconnect = disconnect or (0x80, None)
        self.packets = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.1)
        while not self.stop_ev.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                self._session(conn)
            except (OSError, raw.Closed, raw.ProtocolError):
                pass
            finally:
                conn.close()

    def _session(self, conn):
        c = raw.Client.__new__(raw.Client)
        c.sock = conn
        c.buf = bytearray()
        c.stash = []
        c.closed = False
        c.timeout = 5.0
        c.version = raw.V311
        # the CONNECT decides the version for the rest of the connection
        first = self._recv(c)
        if first is None or first.type != raw.CONNECT:
            return
        body = first.body
        plen = (body[0] << 8) | body[1]
        c.version = body[2 + plen]
        with self.lock:
            self.packets.append(first)
        if c.version == raw.V5:
            cb = bytes([0, self.connack_rc]) + raw.props(self.connack_props)
        else:
            cb = bytes([0, self.connack_rc])
        conn.sendall(raw.packet(raw.CONNACK, 0, cb))
        if self.connack_rc:
            return
        npub = 0
        while not self.stop_ev.is_set():
            p = self._recv(c)
            if p is None:
                continue
            with self.lock:
                self.packets.append(p)
            if p.type == raw.PUBLISH:
                npub += 1
                if p.qos == 1:
                    conn.sendall(raw.puback(p.mid, c.version,
                                            self.puback_rc,
                                            self.puback_props))
                elif p.qos == 2:
                    conn.sendall(raw.pubrec(p.mid, c.version,
                                            self.puback_rc,
                                            self.puback_props))
                if (self.disconnect_after is not None
                        and npub >= self.disconnect_after):
                    rc, props = self.disconnect
                    conn.sendall(raw.disconnect(c.version, rc, props))
                    self._linger(conn)
                    return
            elif p.type == raw.SUBSCRIBE:
                parse_subscribe(p, c.version)
                codes = self.suback_codes
                if codes is None:
                    codes = [o & 3 for _, o in p.fields["filters"]]
                body = raw.u16(p.mid)
                if c.version == raw.V5:
                    body += raw.props(self.suback_props)
                conn.sendall(raw.packet(raw.SUBACK, 0, body + bytes(codes)))
            elif p.type == raw.PUBREL:
                conn.sendall(raw.pubcomp(p.mid, c.version))
            elif p.type == raw.PINGREQ:
                conn.sendall(b"\xd0\x00")
            elif p.type == raw.DISCONNECT:
                return

    def _linger(self, conn):
        """Close after a DISCONNECT as a server should: stop sending and
        read until the client closes (at most 2 s). Closing with unread
        input would send a RST, and the client could lose the DISCONNECT
        that is still in its receive buffer."""
        try:
            conn.shutdown(socket.SHUT_WR)
            conn.settimeout(0.2)
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                try:
                    if not conn.recv(65536):
                        return
                except socket.timeout:
                    continue
        except OSError:
            pass

    def _recv(self, c):
        deadline = time.monotonic() + 0.2
        while True:
            p = c._parse()
            if p is not None:
                return p
            try:
                c._fill(deadline)
            except socket.timeout:
                return None

    def publishes(self):
        with self.lock:
            return [p for p in self.packets if p.type == raw.PUBLISH]

    def subscribes(self):
        with self.lock:
            return [p for p in self.packets if p.type == raw.SUBSCRIBE]

    def connects(self):
        with self.lock:
            return [p for p in self.packets if p.type == raw.CONNECT]

    def close(self):
        self.stop_ev.set()
        try:
            self.sock.close()
        except OSError:
            pass
        self.thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
        return False
