#!/usr/bin/env python3
"""Readiness for systemd's Type=notify (sd_notify(3), broker/notify.c).

With NOTIFY_SOCKET naming a unix datagram socket that the test binds,
ternd sends READY=1 once its listeners are bound (when it arrives the
ready file is there and the port accepts), RELOADING=1 with a
MONOTONIC_USEC of now then READY=1 around a SIGHUP, and STOPPING=1 on
SIGTERM, each from ternd's own PID (systemd's NotifyAccess=main checks
it). The same through an abstract socket ('@' name). A NOTIFY_SOCKET
nobody listens on is logged and does not stop the node."""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403


def receiver(name):
    """A bound datagram socket that receives the sender's credentials."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    s.bind(name)
    return s


def recv_state(s, timeout, proc):
    """The next datagram: (text, sender pid). Fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TestFailure("no notification within %.0fs (ternd %s)"
                              % (timeout, "exited %r" % proc.poll()
                                 if proc.poll() is not None
                                 else "running"))
        s.settimeout(min(left, 0.2))
        try:
            data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            continue
        pid = None
        for level, kind, val in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", val[:12])[0]
        return data.decode(), pid


def start(d, notify):
    """ternd on a free port with data in d/data and NOTIFY_SOCKET=notify;
    returns (proc, ready path, log path)."""
    conf = os.path.join(d, "tern.conf")
    with open(conf, "w") as f:
        f.write("listener 0 127.0.0.1\nlog_level debug\n")
    data = os.path.join(d, "data")
    logp = os.path.join(d, "ternd.log")
    env = dict(os.environ, NOTIFY_SOCKET=notify)
    logf = open(logp, "ab")
    p = spawn([ternd_path(), "-c", conf, "-d", data], stdout=logf,
              stderr=logf, env=env)
    logf.close()
    return p, os.path.join(data, "ternd.ready"), logp


def read_port(ready):
    with open(ready) as f:
        for line in f:
            parts = line.split()
            if parts and parts[0] == "listener":
                return int(parts[2])
    raise TestFailure("no listener line in %s" % ready)


def show_log(logp):
    try:
        with open(logp, "rb") as f:
            log("ternd log:\n" + f.read().decode(errors="replace"))
    except OSError:
        pass


def stop(p, s, logp):
    p.send_signal(signal.SIGTERM)
    state, pid = recv_state(s, 10, p)
    check_eq(state, "STOPPING=1", "notification on SIGTERM")
    check_eq(pid, p.pid, "sender of STOPPING=1")
    try:
        rc = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        raise TestFailure("ternd did not exit within 10s of SIGTERM")
    check_eq(rc, 0, "exit status")
    s.settimeout(0)
    try:
        extra = s.recv(4096)
    except BlockingIOError:
        extra = None
    check(extra is None, "nothing after STOPPING=1, got %r" % extra)
    with open(logp, "rb") as f:
        text = f.read().decode(errors="replace")
    for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                "runtime error:"):
        check(bad not in text, "sanitizer report in the log (%s)" % bad)


def cycle(d, name, bind_name, reload=True):
    os.makedirs(d)
    s = receiver(bind_name)
    p, ready, logp = start(d, name)
    try:
        state, pid = recv_state(s, 10, p)
        # at once, before anything else: the port must be bound by now
        exists = os.path.exists(ready)
        port = read_port(ready) if exists else None
        accepts = port is not None and port_accepts(port)
        check_eq(state, "READY=1", "first notification (%s)" % name)
        check_eq(pid, p.pid, "sender of READY=1")
        check(exists, "READY=1 came before %s was written" % ready)
        check(accepts, "READY=1 came before port %r accepted" % port)
        pub(port, "notify/t", "hi", qos=1)
        if reload:
            before = time.clock_gettime(time.CLOCK_MONOTONIC)
            p.send_signal(signal.SIGHUP)
            state, pid = recv_state(s, 10, p)
            lines = state.split("\n")
            check_eq(lines[0], "RELOADING=1", "first line on SIGHUP")
            check_eq(pid, p.pid, "sender of RELOADING=1")
            check(len(lines) == 2 and lines[1].startswith("MONOTONIC_USEC="),
                  "MONOTONIC_USEC with RELOADING=1: %r" % state)
            usec = int(lines[1].split("=", 1)[1])
            after = time.clock_gettime(time.CLOCK_MONOTONIC)
            check(before * 1e6 - 1e6 <= usec <= after * 1e6 + 1e6,
                  "MONOTONIC_USEC %d is not now (%.0f..%.0f)"
                  % (usec, before * 1e6, after * 1e6))
            state, pid = recv_state(s, 10, p)
            check_eq(state, "READY=1", "after the reload")
        stop(p, s, logp)
    except BaseException:
        show_log(logp)
        raise
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=5)
        s.close()


def test():
    tern_only("systemd readiness notification")
    # unix socket paths are short (108 bytes): not under the build tree
    d = tempfile.mkdtemp(prefix="tern-notify.")
    try:
        # a path
        sock = os.path.join(d, "notify.sock")
        cycle(os.path.join(d, "path"), sock, sock)
        # the abstract namespace: '@' for the leading NUL
        abstract = "tern-notify-%d-%s" % (os.getpid(),
                                          os.path.basename(d)[-8:])
        cycle(os.path.join(d, "abstract"), "@" + abstract,
              "\0" + abstract, reload=False)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    # nobody listening: the node serves all the same
    os.environ["NOTIFY_SOCKET"] = os.path.join(tmp_root(), "nobody.sock")
    try:
        with Broker(name="nobody") as b:
            pub(b.port, "notify/t", "hi", qos=1)
            b.wait_log("cannot send READY=1 to NOTIFY_SOCKET")
    finally:
        del os.environ["NOTIFY_SOCKET"]


main(test)
