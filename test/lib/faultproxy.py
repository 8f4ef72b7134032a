#!/usr/bin/env python3
"""A user-space TCP fault proxy (stdlib only, Python 3.11).

``tc netem`` is not available where the tests run, so network faults are
injected here instead: clients (or a cluster node) connect to the proxy,
which connects to the target and forwards bytes both ways, adding latency,
a bandwidth limit, cuts, partitions and stalls on command.

Library
-------
    with FaultProxy(target_port) as p:      # binds at once, p.port is set
        c = mqttraw.Client(p.port)         # start() was called by __enter__
        p.set_latency(50); p.cut(); ...

``FaultProxy(target_port, target_host="127.0.0.1", listen_host="127.0.0.1",
listen_port=0)`` binds and listens in the constructor (``.port`` is the
bound port, also when ``listen_port`` is 0); ``start()`` starts the event
thread; ``close()`` resets every connection, closes every socket and joins
the thread (bounded); usable as a context manager (``__enter__`` starts).

Controls are thread-safe and synchronous: they run on the event thread and
return once done (bounded by ``CALL_TIMEOUT``), so after ``cut()`` returns
every connection is closed, after ``stall()`` returns nothing more is
forwarded. Callable before ``start()`` too.

- ``set_latency(ms)``: added one-way delay, both directions. Each chunk
  read is stamped "due at read time + latency" and written when due;
  order is kept per direction (a chunk is never due before the previous
  one, even when the latency is lowered). EOF and reset are delayed alike.
- ``set_bandwidth(bytes_per_s)``: ``None`` (or 0) = unlimited; otherwise
  each direction of each connection is paced to that rate (slices of
  ~20 ms worth of bytes).
- ``cut()``: resets every open connection on both sides (SO_LINGER 0, so
  both peers see ECONNRESET at once). New connections are accepted.
- ``partition(seconds=None)``: ``cut()`` and refuse new connections
  (accepted, then reset at once, before anything is read) until ``heal()``
  or until ``seconds`` have passed.
- ``stall(seconds=None, discard=False)``: half-open. Nothing is forwarded
  either way and nothing is closed until ``heal()`` or the timeout:
  existing connections stay open; new ones are accepted and their
  connection to the target is only made when the stall ends (like a SYN
  lost in a black hole that the client's TCP retries). A peer's EOF or
  reset read during the stall is held back as well.
    * default (hold): bytes read are held, in order, up to ``HOLD_CAP``
      bytes per direction per connection; past that the proxy stops
      reading (TCP flow control then stalls the sender, as a black hole
      does). When the stall ends everything held is forwarded (with the
      latency it was stamped with) and the connections go on.
    * ``discard=True`` (closer to a black hole): bytes read are dropped.
      When the stall ends, every connection that lost bytes is reset on
      both sides (its byte stream has a hole, so it cannot go on); one
      that lost nothing goes on.
- ``heal()``: ends a partition and a stall (latency and bandwidth stay
  until set back).
- counters: ``connections`` (every connection accepted, the refused ones
  included), ``refused`` (reset because of a partition), ``cuts``
  (connections reset by cut/partition/discarding stall), ``bytes_up``
  (client -> target) and ``bytes_down`` (target -> client), both counting
  bytes written to the other side, ``bytes_discarded`` (by a discarding
  stall); ``open_connections()``; ``stats()`` returns them all as a dict.

Every wait is bounded; the event thread sleeps in select() until the next
due chunk, paced slice or timeout (at most ``MAX_SLEEP``), so it does not
spin when idle.

Command line (for bench/ scripts)
---------------------------------
    /usr/bin/python3 test/lib/faultproxy.py --target HOST:PORT
        [--target HOST:PORT ...] [--listen PORT ...] [--listen-host H]
        [--ready-file F]

One proxy per ``--target``; the Nth ``--listen`` is the listen port of the
Nth proxy (0 or missing: any free port). Once every proxy listens, the
bound ports are printed on one stdout line, space separated, in
``--target`` order (and written with a newline to the ready file, created
atomically). Then commands are read from stdin, one per line:

    [INDEX] latency MS | bandwidth BYTES_PER_S|none | cut |
            partition [SECONDS] | stall [SECONDS] [discard] | heal |
            stats | quit

INDEX is the 0-based position of the proxy in ``--target`` order; without
it (or with ``*``) the command applies to every proxy. Each command gets
exactly one answer line: ``ok`` (``cut`` and ``partition``: ``ok cut N``,
the number of connections reset; ``stats``: ``ok`` followed by
``INDEX connections=N open=N refused=N cuts=N bytes_up=N bytes_down=N``
groups separated by ``;``), or ``error MESSAGE``. ``quit`` (or EOF on
stdin, SIGTERM, SIGINT) closes every proxy and exits 0.
"""

import collections
import errno
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import time

HOLD_CAP = 1 << 20        # bytes held per direction before reading stops
RECV_SIZE = 65536
READS_PER_EVENT = 8       # recv() calls per readable event at most
PACE_SLICE = 0.02         # seconds of bandwidth per write when limited
MAX_SLEEP = 1.0           # longest select() timeout
CALL_TIMEOUT = 10.0       # longest wait of a control for the event thread
JOIN_TIMEOUT = 5.0        # longest wait for the event thread in close()

_EOF = "EOF"              # markers in a direction's queue
_RST = "RST"


def _reset(sock):
    """Close with RST (SO_LINGER 0)."""
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class _Dir:
    """One direction of a connection: src -> proxy -> dst."""

    __slots__ = ("queue", "out", "held", "last_due", "next_free",
                 "eof_read", "end", "finished", "want_write")

    def __init__(self):
        self.queue = collections.deque()   # (due, bytes | _EOF | _RST)
        self.out = collections.deque()     # released bytes not yet written
        self.held = 0                      # bytes in queue + out
        self.last_due = 0.0
        self.next_free = 0.0               # bandwidth pacing
        self.eof_read = False              # src gave EOF or an error
        self.end = None                    # released marker, once out drains
        self.finished = False              # end marker acted upon
        self.want_write = False            # dst was full: wait for EVENT_WRITE


class _Conn:
    __slots__ = ("id", "csock", "usock", "state", "up", "down", "reg",
                 "discarded", "closed")

    def __init__(self, cid, csock):
        self.id = cid
        self.csock = csock
        self.usock = None
        # pending (no upstream yet: stall), connecting, open
        self.state = "pending"
        self.up = _Dir()       # client -> target
        self.down = _Dir()     # target -> client
        self.reg = {}          # socket -> registered event mask
        self.discarded = False
        self.closed = False


class FaultProxy:
    def __init__(self, target_port, target_host="127.0.0.1",
                 listen_host="127.0.0.1", listen_port=0):
        self.target = (target_host, int(target_port))
        infos = socket.getaddrinfo(target_host, int(target_port),
                                   type=socket.SOCK_STREAM)
        self._tfamily, _, _, _, self._taddr = infos[0]
        linfo = socket.getaddrinfo(listen_host, int(listen_port),
                                   type=socket.SOCK_STREAM)
        lfamily, _, _, _, laddr = linfo[0]
        self._lsock = socket.socket(lfamily, socket.SOCK_STREAM)
        try:
            self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._lsock.bind(laddr)
            self._lsock.listen(128)
            self._lsock.setblocking(False)
        except BaseException:
            self._lsock.close()
            raise
        self.port = self._lsock.getsockname()[1]
        self.listen_host = listen_host

        self._lock = threading.Lock()
        self._cmds = []
        self._thread = None
        self._closed = False
        self._stopping = False
        self.error = None
        self._sel = None
        self._wr = self._ww = None

        self._conns = {}
        self._next_id = 0
        self._latency = 0.0
        self._rate = None
        self._partitioned = False
        self._partition_until = None
        self._stalled = False
        self._stall_discard = False
        self._stall_until = None
        self._accept_pause_until = 0.0

        self.connections = 0
        self.refused = 0
        self.cuts = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self.bytes_discarded = 0

    # ------------------------------------------------------------------
    # lifecycle

    def start(self):
        with self._lock:
            if self._closed:
                raise RuntimeError("proxy closed")
            if self._thread is not None:
                return self
            self._sel = selectors.DefaultSelector()
            self._wr, self._ww = socket.socketpair()
            self._wr.setblocking(False)
            self._ww.setblocking(False)
            self._sel.register(self._wr, selectors.EVENT_READ, ("wake",))
            self._sel.register(self._lsock, selectors.EVENT_READ,
                               ("listen",))
            self._thread = threading.Thread(
                target=self._run, name="faultproxy-%d" % self.port,
                daemon=True)
            self._thread.start()
        return self

    def close(self):
        """Reset every connection, close every socket, join the thread
        (bounded by JOIN_TIMEOUT). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stopping = True
            t = self._thread
        if t is not None and t is not threading.current_thread():
            self._wake()
            t.join(JOIN_TIMEOUT)
            if t.is_alive():
                # should not happen; close from here rather than leak
                self.error = self.error or RuntimeError(
                    "faultproxy thread did not stop within %.0fs"
                    % JOIN_TIMEOUT)
                self._shutdown_all()
        else:
            self._shutdown_all()
        if self.error is not None:
            raise RuntimeError("faultproxy on port %d failed: %r"
                               % (self.port, self.error))

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.close()
        return False

    # ------------------------------------------------------------------
    # controls (run on the event thread)

    def _call(self, fn):
        with self._lock:
            if self._closed:
                raise RuntimeError("faultproxy on port %d is closed"
                                   % self.port)
            t = self._thread
            if t is None or t is threading.current_thread():
                return fn()
            if not t.is_alive():
                raise RuntimeError("faultproxy thread is dead: %r"
                                   % (self.error,))
            box = [threading.Event(), None, None]
            self._cmds.append((fn, box))
        self._wake()
        if not box[0].wait(CALL_TIMEOUT):
            raise RuntimeError("faultproxy thread did not answer within "
                               "%.0fs" % CALL_TIMEOUT)
        if box[2] is not None:
            raise box[2]
        return box[1]

    def set_latency(self, ms):
        ms = float(ms or 0)
        if ms < 0:
            raise ValueError("negative latency")

        def fn():
            self._latency = ms / 1000.0
        self._call(fn)

    def set_bandwidth(self, bytes_per_s):
        rate = None if not bytes_per_s else float(bytes_per_s)
        if rate is not None and rate < 0:
            raise ValueError("negative bandwidth")

        def fn():
            self._rate = rate
        self._call(fn)

    def cut(self):
        """Reset every connection (both sides). Returns how many."""
        return self._call(self._cut_all)

    def partition(self, seconds=None):
        def fn():
            n = self._cut_all()
            self._partitioned = True
            self._partition_until = (None if seconds is None else
                                     time.monotonic() + float(seconds))
            return n
        return self._call(fn)

    def stall(self, seconds=None, discard=False):
        def fn():
            if not self._stalled:
                for c in self._conns.values():
                    c.discarded = False
            self._stalled = True
            self._stall_discard = bool(discard)
            self._stall_until = (None if seconds is None else
                                 time.monotonic() + float(seconds))
        self._call(fn)

    def heal(self):
        def fn():
            self._end_partition()
            self._end_stall()
        self._call(fn)

    def open_connections(self):
        return len(self._conns)

    @property
    def latency_ms(self):
        return self._latency * 1000.0

    @property
    def bandwidth(self):
        return self._rate

    def partitioned(self):
        return self._partitioned

    def stalled(self):
        return self._stalled

    def stats(self):
        return {"connections": self.connections,
                "open": self.open_connections(),
                "refused": self.refused, "cuts": self.cuts,
                "bytes_up": self.bytes_up, "bytes_down": self.bytes_down,
                "bytes_discarded": self.bytes_discarded}

    # ------------------------------------------------------------------
    # event thread

    def _wake(self):
        w = self._ww
        if w is None:
            return
        try:
            w.send(b"x")
        except (BlockingIOError, OSError):
            pass   # already awake (buffer full) or closing

    def _run(self):
        try:
            while True:
                with self._lock:
                    if self._stopping:
                        break
                now = time.monotonic()
                timeout = self._timeout(now)
                events = self._sel.select(timeout)
                now = time.monotonic()
                for key, mask in events:
                    tag = key.data
                    if tag[0] == "wake":
                        self._drain_wake()
                    elif tag[0] == "listen":
                        self._accept(now)
                    else:
                        conn, sock = tag[1], tag[2]
                        if not conn.closed:
                            self._io(conn, sock, mask, now)
                self._run_commands()
                self._tick(time.monotonic())
        except BaseException as e:  # noqa: keep it for close()/controls
            self.error = e
        finally:
            self._shutdown_all()

    def _drain_wake(self):
        try:
            while self._wr.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _run_commands(self):
        with self._lock:
            cmds, self._cmds = self._cmds, []
        for fn, box in cmds:
            try:
                box[1] = fn()
            except Exception as e:  # noqa: handed to the caller
                box[2] = e
            box[0].set()

    def _fail_commands(self):
        with self._lock:
            cmds, self._cmds = self._cmds, []
        for fn, box in cmds:
            box[2] = RuntimeError("faultproxy closed")
            box[0].set()

    def _shutdown_all(self):
        for c in list(self._conns.values()):
            self._abort(c, count=False)
        self._conns.clear()
        for s in (self._lsock, self._wr, self._ww):
            try:
                if s is not None:
                    s.close()
            except OSError:
                pass
        if self._sel is not None:
            try:
                self._sel.close()
            except Exception:  # noqa
                pass
        self._fail_commands()

    # -- timing

    def _timeout(self, now):
        t = now + MAX_SLEEP
        if self._partition_until is not None:
            t = min(t, self._partition_until)
        if self._stall_until is not None:
            t = min(t, self._stall_until)
        if now < self._accept_pause_until:
            t = min(t, self._accept_pause_until)
        if not self._stalled:
            for c in self._conns.values():
                for d, dst in self._dirs(c):
                    if dst is None:
                        continue
                    if d.queue:
                        t = min(t, d.queue[0][0])
                    if d.out and not d.want_write and self._rate:
                        t = min(t, d.next_free)
        return max(0.0, t - now)

    def _tick(self, now):
        if self._partition_until is not None and now >= self._partition_until:
            self._end_partition()
        if self._stall_until is not None and now >= self._stall_until:
            self._end_stall()
        if now >= self._accept_pause_until and self._accept_pause_until:
            self._accept_pause_until = 0.0
            try:
                self._sel.register(self._lsock, selectors.EVENT_READ,
                                   ("listen",))
            except (KeyError, ValueError, OSError):
                pass
        for c in list(self._conns.values()):
            if not c.closed:
                if not self._stalled:
                    self._pump(c, now)
                if not c.closed:
                    self._interest(c)

    def _end_partition(self):
        self._partitioned = False
        self._partition_until = None

    def _end_stall(self):
        if not self._stalled:
            return
        discard = self._stall_discard
        self._stalled = False
        self._stall_discard = False
        self._stall_until = None
        for c in list(self._conns.values()):
            if c.closed:
                continue
            if discard and c.discarded:
                self._abort(c)
            elif c.state == "pending":
                self._connect_upstream(c)

    # -- connections

    def _dirs(self, c):
        """(direction, destination socket or None if not writable yet)."""
        return ((c.up, c.usock if c.state == "open" else None),
                (c.down, c.csock))

    def _accept(self, now):
        for _ in range(64):
            try:
                s, _addr = self._lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS,
                               errno.ENOMEM):
                    # out of descriptors: stop accepting for a moment
                    # rather than spin on a readable listener
                    self._pause_listener()
                return
            self.connections += 1
            if self._partitioned:
                self.refused += 1
                _reset(s)
                continue
            s.setblocking(False)
            try:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            self._next_id += 1
            c = _Conn(self._next_id, s)
            self._conns[c.id] = c
            if not self._stalled:
                self._connect_upstream(c)
            if not c.closed:
                self._interest(c)

    def _pause_listener(self):
        """Stop accepting for 0.1 s (out of descriptors): a readable
        listener that cannot be accepted from would make select() spin.
        _tick registers it again."""
        try:
            self._sel.unregister(self._lsock)
        except (KeyError, ValueError, OSError):
            pass
        self._accept_pause_until = time.monotonic() + 0.1

    def _connect_upstream(self, c):
        s = socket.socket(self._tfamily, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        rc = s.connect_ex(self._taddr)
        if rc == 0:
            c.usock = s
            c.state = "open"
        elif rc in (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK):
            c.usock = s
            c.state = "connecting"
        else:
            s.close()
            self._abort(c, count=False)

    def _io(self, c, sock, mask, now):
        if sock is c.usock and c.state == "connecting":
            if mask & selectors.EVENT_WRITE:
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    # target refused or unreachable: the client sees a reset
                    self._abort(c, count=False)
                    return
                c.state = "open"
            return
        if mask & selectors.EVENT_READ:
            d = c.up if sock is c.csock else c.down
            self._read(c, d, sock, now)
            if c.closed:
                return
        if mask & selectors.EVENT_WRITE:
            d = c.down if sock is c.csock else c.up
            d.want_write = False

    def _read(self, c, d, sock, now):
        for _ in range(READS_PER_EVENT):
            if d.eof_read or d.held >= HOLD_CAP:
                return
            try:
                data = sock.recv(RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._enqueue(d, _RST, now)
                d.eof_read = True
                return
            if not data:
                self._enqueue(d, _EOF, now)
                d.eof_read = True
                return
            if self._stalled and self._stall_discard:
                c.discarded = True
                self.bytes_discarded += len(data)
                continue
            self._enqueue(d, data, now)

    def _enqueue(self, d, item, now):
        due = max(now + self._latency, d.last_due)
        d.last_due = due
        d.queue.append((due, item))
        if not isinstance(item, str):
            d.held += len(item)

    def _pump(self, c, now):
        """Release due chunks and write what the bandwidth allows."""
        for d, dst in self._dirs(c):
            if dst is None:
                continue
            while d.queue and d.end is None and d.queue[0][0] <= now:
                _, item = d.queue.popleft()
                if isinstance(item, str):
                    d.end = item
                else:
                    d.out.append(item)
            while d.out and not d.want_write:
                chunk = d.out[0]
                n = len(chunk)
                if self._rate:
                    if now < d.next_free:
                        break
                    n = min(n, max(1, int(self._rate * PACE_SLICE)))
                try:
                    sent = dst.send(chunk[:n] if n < len(chunk) else chunk)
                except (BlockingIOError, InterruptedError):
                    d.want_write = True
                    break
                except OSError:
                    self._abort(c, count=False)
                    return
                if sent < len(chunk):
                    d.out[0] = chunk[sent:]
                else:
                    d.out.popleft()
                d.held -= sent
                if d is c.up:
                    self.bytes_up += sent
                else:
                    self.bytes_down += sent
                if self._rate:
                    d.next_free = max(d.next_free, now) + sent / self._rate
                if sent < n:
                    d.want_write = True
            if not d.out and d.end is not None and not d.finished:
                if d.end == _RST:
                    self._abort(c, count=False)
                    return
                d.finished = True
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    self._abort(c, count=False)
                    return
        if c.up.finished and c.down.finished:
            self._close(c)

    def _interest(self, c):
        want = {}
        rd, wr = selectors.EVENT_READ, selectors.EVENT_WRITE
        m = 0
        if not c.up.eof_read and c.up.held < HOLD_CAP:
            m |= rd
        if c.down.want_write:
            m |= wr
        want[c.csock] = m
        if c.usock is not None:
            m = 0
            if c.state == "connecting":
                m = wr
            elif c.state == "open":
                if not c.down.eof_read and c.down.held < HOLD_CAP:
                    m |= rd
                if c.up.want_write:
                    m |= wr
            want[c.usock] = m
        for s, m in want.items():
            old = c.reg.get(s, 0)
            if m == old:
                continue
            if old == 0:
                self._sel.register(s, m, ("conn", c, s))
            elif m == 0:
                self._sel.unregister(s)
            else:
                self._sel.modify(s, m, ("conn", c, s))
            c.reg[s] = m

    def _unregister(self, c):
        for s, m in c.reg.items():
            if m:
                try:
                    self._sel.unregister(s)
                except (KeyError, ValueError, OSError):
                    pass
        c.reg.clear()

    def _abort(self, c, count=True):
        if c.closed:
            return
        c.closed = True
        if count:
            self.cuts += 1
        if self._sel is not None:
            self._unregister(c)
        _reset(c.csock)
        _reset(c.usock)
        self._conns.pop(c.id, None)

    def _close(self, c):
        if c.closed:
            return
        c.closed = True
        self._unregister(c)
        for s in (c.csock, c.usock):
            try:
                if s is not None:
                    s.close()
            except OSError:
                pass
        self._conns.pop(c.id, None)

    def _cut_all(self):
        conns = list(self._conns.values())
        for c in conns:
            self._abort(c)
        return len(conns)


# ----------------------------------------------------------------------
# command line

def _hostport(s):
    host, sep, port = s.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError("expected HOST:PORT, got %r" % s)
    return (host.strip("[]") or "127.0.0.1"), int(port)


def _command(proxies, line):
    """Run one command line; return the answer line (without newline)."""
    words = line.split()
    if not words:
        return None
    targets = list(range(len(proxies)))
    if words[0] == "*":
        words = words[1:]
    elif words[0].isdigit():
        i = int(words[0])
        if i >= len(proxies):
            return "error no proxy %d (have %d)" % (i, len(proxies))
        targets = [i]
        words = words[1:]
    if not words:
        return "error missing command"
    verb, args = words[0].lower(), words[1:]

    def num(i, what):
        if len(args) <= i:
            raise ValueError("%s: missing %s" % (verb, what))
        return float(args[i])
    try:
        if verb == "latency":
            ms = num(0, "milliseconds")
            for i in targets:
                proxies[i].set_latency(ms)
        elif verb == "bandwidth":
            if not args:
                raise ValueError("bandwidth: missing bytes per second")
            bps = None if args[0].lower() in ("none", "0", "off") else \
                num(0, "bytes per second")
            for i in targets:
                proxies[i].set_bandwidth(bps)
        elif verb == "cut":
            n = sum(proxies[i].cut() for i in targets)
            return "ok cut %d" % n
        elif verb == "partition":
            secs = num(0, "seconds") if args else None
            n = sum(proxies[i].partition(secs) for i in targets)
            return "ok cut %d" % n
        elif verb == "stall":
            secs = None
            discard = False
            for a in args:
                if a.lower() == "discard":
                    discard = True
                elif a.lower() == "hold":
                    discard = False
                else:
                    secs = float(a)
            for i in targets:
                proxies[i].stall(secs, discard=discard)
        elif verb == "heal":
            for i in targets:
                proxies[i].heal()
        elif verb == "stats":
            groups = []
            for i in targets:
                s = proxies[i].stats()
                groups.append("%d connections=%d open=%d refused=%d "
                              "cuts=%d bytes_up=%d bytes_down=%d"
                              % (i, s["connections"], s["open"],
                                 s["refused"], s["cuts"], s["bytes_up"],
                                 s["bytes_down"]))
            return "ok " + "; ".join(groups)
        elif verb == "quit":
            return "ok bye"
        else:
            return "error unknown command %r" % verb
    except (ValueError, RuntimeError) as e:
        return "error %s" % e
    return "ok"


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(
        description="TCP fault proxy; commands on stdin (see the top of "
        "this file)")
    ap.add_argument("--target", action="append", required=True,
                    metavar="HOST:PORT")
    ap.add_argument("--listen", action="append", type=int, default=[],
                    metavar="PORT")
    ap.add_argument("--listen-host", default="127.0.0.1")
    ap.add_argument("--ready-file")
    a = ap.parse_args(argv)
    if len(a.listen) > len(a.target):
        ap.error("more --listen than --target")

    proxies = []
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    rc = 0
    try:
        for i, t in enumerate(a.target):
            host, port = _hostport(t)
            lport = a.listen[i] if i < len(a.listen) else 0
            proxies.append(FaultProxy(port, target_host=host,
                                      listen_host=a.listen_host,
                                      listen_port=lport).start())
        line = " ".join(str(p.port) for p in proxies)
        if a.ready_file:
            tmp = a.ready_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(line + "\n")
            os.replace(tmp, a.ready_file)
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        for cmd in sys.stdin:
            ans = _command(proxies, cmd)
            if ans is None:
                continue
            sys.stdout.write(ans + "\n")
            sys.stdout.flush()
            if ans == "ok bye":
                break
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        rc = 1
    except OSError as e:
        sys.stderr.write("faultproxy: %s\n" % e)
        rc = 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        for p in proxies:
            try:
                p.close()
            except RuntimeError as e:
                sys.stderr.write("faultproxy: %s\n" % e)
                rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
