"""Integration test harness for ternd (stdlib only, Python 3.11).

A test is a script that calls ``harness.main(test)``.  ``test`` is a
function taking no argument; it starts brokers with ``Broker``, drives them
with mosquitto_pub/mosquitto_sub, Paho or the raw client of mqttraw.py and
checks with ``check``/``check_eq`` (or plain ``assert``).

Exit status (automake's convention):
    0 pass, 77 skip, 99 hard error (harness broken), anything else (1) fail.

Environment:
    TERND              path of the ternd binary (set by ``make check``)
    TERN_BUILDDIR      top build directory; temp dirs go to test/tmp/ below
    TERN_SRCDIR        top source directory
    TERN_TEST_BROKER   "mosquitto" runs the same test against
                       /usr/sbin/mosquitto instead, to prove the test right;
                       tern-only tests skip themselves in that mode.
    TERN_TEST_KEEP     "1" keeps the temp dir of a passing test too.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_SKIP = 77
EXIT_ERROR = 99

HOST = "127.0.0.1"
MOSQUITTO = os.environ.get("TERN_MOSQUITTO", "/usr/sbin/mosquitto")
MOSQUITTO_PUB = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
MOSQUITTO_SUB = shutil.which("mosquitto_sub") or "/usr/bin/mosquitto_sub"
# mosquitto_sub writes to a file: make its stdout line buffered so that the
# harness sees "Subscribed" and each message as soon as they happen.
STDBUF = shutil.which("stdbuf")

BROKER_KIND = os.environ.get("TERN_TEST_BROKER", "ternd") or "ternd"

# Config keys that mosquitto understands with the same meaning and syntax.
_MOSQ_SAME_KEYS = {
    "max_packet_size", "max_inflight_messages", "max_queued_messages",
    "max_keepalive", "allow_zero_length_clientid", "set_tcp_nodelay",
}
# Config keys that only change logging; dropped in mosquitto mode.
_MOSQ_DROP_KEYS = {"log_level", "log_dest", "data_dir"}


class Skip(Exception):
    """Raise to skip the test (exit 77)."""


class HarnessError(Exception):
    """The harness or the environment is broken (exit 99)."""


class TestFailure(AssertionError):
    """A check failed (exit 1)."""


# --------------------------------------------------------------------------
# small utilities

def is_mosquitto():
    return BROKER_KIND == "mosquitto"


def tern_only(why="tern-only behaviour"):
    """Skip the test when running against mosquitto."""
    if is_mosquitto():
        raise Skip("%s: skipped against mosquitto" % why)


def log(*args):
    msg = " ".join(str(a) for a in args)
    sys.stderr.write("# %s\n" % msg)
    sys.stderr.flush()


def check(cond, what):
    if not cond:
        raise TestFailure(what)


def check_eq(got, expected, what):
    if got != expected:
        raise TestFailure("%s: expected %r, got %r" % (what, expected, got))


def wait_for(cond, timeout=5.0, what="condition", interval=0.02):
    """Poll cond() until it returns a true value; return it.

    Raises TestFailure naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TestFailure("timed out after %.1fs waiting for %s"
                              % (timeout, what))
        time.sleep(interval)


def test_name():
    base = os.path.basename(sys.argv[0]) or "test"
    if base.endswith(".py"):
        base = base[:-3]
    return base


_tmp_root = None


def tmp_root():
    """The private temp dir of this test run (created on first use)."""
    global _tmp_root
    if _tmp_root is None:
        parent = None
        bd = os.environ.get("TERN_BUILDDIR")
        if bd:
            parent = os.path.join(bd, "test", "tmp")
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError:
                parent = None
        _tmp_root = tempfile.mkdtemp(prefix=test_name() + ".", dir=parent)
    return _tmp_root


def tmp_path(name):
    return os.path.join(tmp_root(), name)


def free_port():
    """A port that was free a moment ago (for mosquitto, which has no
    ready file). Only used in mosquitto mode."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((HOST, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def port_accepts(port, host=HOST):
    try:
        s = socket.create_connection((host, port), timeout=0.2)
    except OSError:
        return False
    s.close()
    return True


# --------------------------------------------------------------------------
# process bookkeeping: everything we start is stopped by PID at the end

_procs = []           # subprocess.Popen objects started by the harness
_brokers = []         # Broker objects, for logs on failure
_procs_lock = threading.Lock()


def _register(p):
    with _procs_lock:
        _procs.append(p)
    return p


def _reap_all():
    with _procs_lock:
        procs = list(_procs)
    for p in procs:
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


def spawn(cmd, stdout=None, stderr=None, stdin=subprocess.DEVNULL, env=None,
          **kw):
    """Popen registered for cleanup (SIGKILL by PID at exit if alive)."""
    try:
        p = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, stdin=stdin,
                             env=env, **kw)
    except FileNotFoundError as e:
        raise HarnessError("cannot run %s: %s" % (cmd[0], e))
    return _register(p)


class Result:
    def __init__(self, cmd, rc, out, err):
        self.cmd = cmd
        self.rc = rc
        self.returncode = rc
        self.out = out
        self.err = err
        self.stdout = out
        self.stderr = err

    def __repr__(self):
        return "Result(rc=%r, out=%r, err=%r)" % (self.rc, self.out[-2000:],
                                                  self.err[-2000:])


def run(cmd, timeout=10.0, input=None, env=None, check_rc=None):
    """Run cmd, wait at most timeout seconds (kill then fail on timeout).

    Returns a Result with rc, out, err (text). If check_rc is not None,
    fails the test when the exit status differs."""
    p = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
              stdin=subprocess.PIPE if input is not None else
              subprocess.DEVNULL, env=env)
    try:
        out, err = p.communicate(
            input=input.encode() if isinstance(input, str) else input,
            timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise TestFailure("command timed out after %.1fs: %s\nstdout: %s\n"
                          "stderr: %s" % (timeout, " ".join(cmd),
                                          out.decode(errors="replace"),
                                          err.decode(errors="replace")))
    r = Result(cmd, p.returncode, out.decode(errors="replace"),
               err.decode(errors="replace"))
    if check_rc is not None and r.rc != check_rc:
        raise TestFailure("%s: exit status %r (expected %r)\nstdout: %s\n"
                          "stderr: %s" % (" ".join(cmd), r.rc, check_rc,
                                          r.out, r.err))
    return r


# --------------------------------------------------------------------------
# the broker under test

def ternd_path():
    p = os.environ.get("TERND")
    if not p:
        bd = os.environ.get("TERN_BUILDDIR")
        if bd:
            p = os.path.join(bd, "broker", "ternd")
    if not p:
        raise HarnessError("TERND is not set (and no TERN_BUILDDIR)")
    if not os.access(p, os.X_OK):
        raise HarnessError("ternd not found or not executable: %s" % p)
    return p


def run_ternd(args, timeout=10.0):
    """Run ternd with args to completion (for options that exit, or for a
    config that must be refused). Returns a Result."""
    return run([ternd_path()] + list(args), timeout=timeout)


def ternd_version():
    """PACKAGE_VERSION from configure.ac (None if not found)."""
    import re
    src = os.environ.get("TERN_SRCDIR")
    if not src:
        return None
    try:
        with open(os.path.join(src, "configure.ac")) as f:
            m = re.search(r"AC_INIT\(\[[^]]*\],\s*\[([^]]*)\]", f.read())
    except OSError:
        return None
    return m.group(1) if m else None


def _conf_key(line):
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    return line.split()[0]


class Broker:
    """A broker process with a private directory.

    conf: extra config lines (ternd syntax). In mosquitto mode, keys that
    mosquitto shares are passed on, logging keys are dropped, and any other
    key makes the test skip (tern-only setting).
    mosq_conf: extra lines for mosquitto only.
    """

    READY_TIMEOUT = 10.0
    STOP_TIMEOUT = 10.0

    def __init__(self, conf=(), mosq_conf=(), name="broker", verbose=True,
                 args=(), start=True):
        self.conf = list(conf)
        self.mosq_conf = list(mosq_conf)
        self.name = name
        self.verbose = verbose
        self.args = list(args)
        self.kind = BROKER_KIND
        self.dir = os.path.join(tmp_root(), name)
        os.makedirs(self.dir, exist_ok=True)
        self.data_dir = os.path.join(self.dir, "data")
        self.conf_path = os.path.join(self.dir,
                                      "mosquitto.conf" if is_mosquitto()
                                      else "ternd.conf")
        self.log_path = os.path.join(self.dir, "broker.log")
        self.proc = None
        self.port = None
        self.http_port = None
        self.listeners = []
        self.exit_codes = []
        self._fixed_port = None
        self._logf = None
        _brokers.append(self)
        if start:
            self.start()

    # -- config
    def _write_conf(self):
        if is_mosquitto():
            port = self._fixed_port or free_port()
            lines = ["listener %d %s" % (port, HOST),
                     "allow_anonymous true",
                     "log_dest stderr",
                     "log_type all" if self.verbose else
                     "log_type error warning notice",
                     "persistence false"]
            for c in self.conf:
                k = _conf_key(c)
                if k is None or k in _MOSQ_DROP_KEYS:
                    continue
                if k in _MOSQ_SAME_KEYS:
                    lines.append(c.strip())
                else:
                    raise Skip("config key %r has no mosquitto equivalent"
                               % k)
            lines += self.mosq_conf
            self.port = port
        else:
            port = self._fixed_port or 0
            lines = ["# written by test/lib/harness.py",
                     "listener %d %s" % (port, HOST)]
            if self.verbose:
                lines.append("log_level debug")
            lines += self.conf
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def ready_path(self):
        return os.path.join(self.data_dir, "ternd.ready")

    def read_ready(self):
        """Parse the ready file: list of (address, port) of the MQTT
        listeners; the HTTP listener's port goes to self.http_port."""
        with open(self.ready_path()) as f:
            text = f.read()
        out = []
        self.http_port = None
        for line in text.splitlines():
            parts = line.split()
            if len(parts) != 3 or parts[0] not in ("listener", "cluster",
                                                   "http"):
                raise TestFailure("bad ready file line %r" % line)
            if parts[0] == "listener":
                out.append((parts[1], int(parts[2])))
            elif parts[0] == "http":
                self.http_port = int(parts[2])
        return out

    # -- lifecycle
    def start(self):
        if self.proc is not None and self.proc.poll() is None:
            raise HarnessError("broker already running")
        self._write_conf()
        self._logf = open(self.log_path, "ab")
        self._logf.write(b"=== harness: starting broker ===\n")
        self._logf.flush()
        if is_mosquitto():
            cmd = [MOSQUITTO, "-c", self.conf_path] + self.args
        else:
            # a ready file left by a killed broker must not be mistaken for
            # the new one
            try:
                os.unlink(self.ready_path())
            except FileNotFoundError:
                pass
            cmd = [ternd_path(), "-c", self.conf_path, "-d", self.data_dir]
            cmd += self.args
        self.cmd = cmd
        self.proc = spawn(cmd, stdout=self._logf, stderr=self._logf)
        self.pid = self.proc.pid
        try:
            if is_mosquitto():
                self._wait_port()
            else:
                self._wait_ready()
        except BaseException:
            self._force_kill()
            raise
        return self

    def _died(self):
        return TestFailure("broker exited during startup with status %r"
                           % self.proc.returncode)

    def _wait_port(self):
        deadline = time.monotonic() + self.READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                # most likely the port was taken meanwhile: one retry with
                # another port (only when the port was not fixed)
                if self._fixed_port is None and not getattr(self, "_retried",
                                                            False):
                    self._retried = True
                    return self.start()
                raise self._died()
            if port_accepts(self.port):
                self.listeners = [(HOST, self.port)]
                return
            time.sleep(0.02)
        raise TestFailure("mosquitto did not accept on port %d within %.0fs"
                          % (self.port, self.READY_TIMEOUT))

    def _wait_ready(self):
        deadline = time.monotonic() + self.READY_TIMEOUT
        rp = self.ready_path()
        while time.monotonic() < deadline:
            if os.path.exists(rp):
                self.listeners = self.read_ready()
                if not self.listeners:
                    raise TestFailure("ready file has no listener")
                self.port = self.listeners[0][1]
                return
            if self.proc.poll() is not None:
                raise self._died()
            time.sleep(0.02)
        raise TestFailure("no ready file %s within %.0fs"
                          % (rp, self.READY_TIMEOUT))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout=None):
        """Wait for the process to exit; return its status (negative =
        killed by that signal). Fails after timeout."""
        timeout = self.STOP_TIMEOUT if timeout is None else timeout
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("broker pid %d did not exit within %.0fs"
                              % (self.proc.pid, timeout))
        self.exit_codes.append(rc)
        if self._logf:
            self._logf.close()
            self._logf = None
        return rc

    def stop(self, expect_rc=0):
        """SIGTERM, bounded wait, check exit status (0) and the log for
        sanitizer reports. SIGKILL by PID if it is still alive."""
        if self.proc is None:
            return None
        if self.proc.returncode is not None:
            return self.proc.returncode
        try:
            self.signal(signal.SIGTERM)
            rc = self.wait_exit()
        finally:
            self._force_kill()
        if expect_rc is not None:
            check(rc == expect_rc, "broker exit status %r at stop "
                  "(expected %r)" % (rc, expect_rc))
        self.check_log_clean()
        return rc

    def check_log_clean(self):
        text = self.log()
        for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                    "runtime error:", "ThreadSanitizer"):
            check(bad not in text, "sanitizer report in broker log (%s)"
                  % bad)

    def kill9(self):
        if self.proc is None:
            return
        try:
            self.signal(signal.SIGKILL)
            self.proc.wait(timeout=self.STOP_TIMEOUT)
        finally:
            self._force_kill()
        if self._logf:
            self._logf.close()
            self._logf = None

    def restart(self, keep_port=True, graceful=True):
        """Stop (SIGTERM, or SIGKILL if not graceful) and start again on
        the same port (keep_port) with the same directory."""
        old = self.port
        if graceful:
            self.stop()
        else:
            self.kill9()
        if keep_port:
            self._fixed_port = old
        return self.start()

    def _force_kill(self):
        p = self.proc
        if p is not None and p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def wait_log(self, text, timeout=5.0):
        return wait_for(lambda: text in self.log(), timeout,
                        "%r in the broker log" % text)

    def reload(self, conf, timeout=10.0):
        """Rewrite the config file with conf (the lines after the
        listener, as given to Broker) and SIGHUP; wait until the reload
        is logged, applied or refused (a file that does not parse)."""
        text = self.log()
        done = text.count("configuration reloaded from")
        refused = text.count("not reloaded")
        self.conf = list(conf)
        self._write_conf()
        self.signal(signal.SIGHUP)
        wait_for(lambda: self.log().count("configuration reloaded from") >
                 done or self.log().count("not reloaded") > refused,
                 timeout, "the reload logged")

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            self.stop()
        else:
            # the test already failed: do not mask its error
            try:
                self.stop(expect_rc=None)
            except Exception as e:  # noqa
                log("while stopping broker after failure: %s" % e)
            finally:
                self._force_kill()
        return False


# --------------------------------------------------------------------------
# mosquitto_pub / mosquitto_sub

def _vflag(version):
    return {5: "mqttv5", 4: "mqttv311", 3: "mqttv31", "5": "mqttv5",
            "311": "mqttv311", "31": "mqttv31"}[version]


def pub(port, topic, messages=None, qos=0, version=4, retain=False,
        extra=(), timeout=10.0, null=False, client_id=None):
    """Publish with mosquitto_pub. messages: one string (-m), a list
    (sent with -l, one line each, in one connection), or None with
    null=True (-n, empty payload)."""
    cmd = [MOSQUITTO_PUB, "-V", _vflag(version), "-h", HOST, "-p", str(port),
           "-t", topic, "-q", str(qos)]
    if retain:
        cmd.append("-r")
    if client_id:
        cmd += ["-i", client_id]
    cmd += list(extra)
    inp = None
    if null:
        cmd.append("-n")
    elif isinstance(messages, (list, tuple)):
        cmd.append("-l")
        inp = "".join(m + "\n" for m in messages)
    else:
        cmd += ["-m", messages]
    return run(cmd, timeout=timeout, input=inp, check_rc=0)


MSG_MARK = "=MSG= "


class Sub:
    """A mosquitto_sub in the background.

    Output is parsed into .messages: list of (topic, payload, qos, retain)
    and .dups: DUP flag of each PUBLISH seen (from -d). Use wait_ready()
    before publishing (waits for the SUBACK), then wait_count()/finish().
    """

    _n = 0

    def __init__(self, port, topics, qos=0, version=4, count=None,
                 wait_secs=10, client_id=None, clean=True, extra=(),
                 name="sub"):
        if isinstance(topics, str):
            topics = [topics]
        Sub._n += 1
        self.out_path = tmp_path("%s.%d.out" % (name, Sub._n))
        cmd = [STDBUF, "-oL"] if STDBUF else []
        cmd += [MOSQUITTO_SUB, "-V", _vflag(version), "-h", HOST,
               "-p", str(port), "-q", str(qos), "-d",
               "-F", MSG_MARK + "%q %r %t %p"]
        for t in topics:
            cmd += ["-t", t]
        if count is not None:
            cmd += ["-C", str(count)]
        if wait_secs:
            cmd += ["-W", str(int(wait_secs))]
        if client_id:
            cmd += ["-i", client_id]
        if not clean:
            cmd.append("-c")
        cmd += list(extra)
        self.cmd = cmd
        self.ntopics = len(topics)
        self._outf = open(self.out_path, "wb")
        self.proc = spawn(cmd, stdout=self._outf, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid

    def text(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode(errors="replace")

    @property
    def messages(self):
        out = []
        for line in self.text().splitlines():
            if line.startswith(MSG_MARK):
                rest = line[len(MSG_MARK):]
                q, r, tp = rest.split(" ", 2)
                if " " in tp:
                    topic, payload = tp.split(" ", 1)
                else:
                    topic, payload = tp, ""
                out.append((topic, payload, int(q), int(r)))
        return out

    @property
    def payloads(self):
        return [m[1] for m in self.messages]

    @property
    def dups(self):
        out = []
        for line in self.text().splitlines():
            i = line.find("received PUBLISH (d")
            if i >= 0:
                out.append(int(line[i + len("received PUBLISH (d")]))
        return out

    def wait_ready(self, timeout=5.0):
        """Wait for the SUBACK (mosquitto_sub -d prints 'Subscribed')."""
        def ready():
            if self.proc.poll() is not None:
                raise TestFailure("mosquitto_sub exited early (%r): %s"
                                  % (self.proc.returncode, self.text()))
            return "Subscribed (mid" in self.text()
        wait_for(ready, timeout, "mosquitto_sub SUBACK")
        return self

    def wait_count(self, n, timeout=5.0):
        try:
            wait_for(lambda: len(self.messages) >= n, timeout,
                     "%d messages at mosquitto_sub" % n)
        except TestFailure as e:
            tail = "\n".join(self.text().splitlines()[-5:])
            raise TestFailure("%s (got %d; exit status %r; output ends "
                              "with:\n%s)" % (e, len(self.messages),
                                              self.proc.poll(), tail))
        return self.messages

    def finish(self, timeout=15.0):
        """Wait for mosquitto_sub to exit by itself (-C / -W)."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TestFailure("mosquitto_sub did not exit within %.0fs"
                              % timeout)
        self._outf.close()
        return rc

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if not self._outf.closed:
            self._outf.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.kill()
        return False


# --------------------------------------------------------------------------
# Paho (python3-paho-mqtt 1.6.1)

def paho():
    try:
        import paho.mqtt.client as mqtt  # noqa
    except ImportError:
        raise Skip("paho-mqtt is not installed (apt-get install "
                   "python3-paho-mqtt)")
    return mqtt


class PahoClient:
    """A Paho client running its own network thread, recording messages.

    version: 5 or 4 (3.1.1)."""

    def __init__(self, port, client_id="", version=4, clean=True,
                 session_expiry=None, keepalive=30, will=None):
        mqtt = paho()
        self.mqtt = mqtt
        self.version = version
        proto = mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311
        if version == 5:
            self.c = mqtt.Client(client_id=client_id, protocol=proto)
        else:
            self.c = mqtt.Client(client_id=client_id, protocol=proto,
                                 clean_session=clean)
        self.port = port
        self.clean = clean
        self.session_expiry = session_expiry
        self.keepalive = keepalive
        self.lock = threading.Lock()
        self.messages = []          # (topic, payload bytes, qos, retain)
        self.connack = None         # (flags, rc)
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.subacks = {}
        self.pubacks = set()
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        self.c.on_publish = self._on_publish
        if will:
            self.c.will_set(*will)

    def _on_connect(self, c, ud, flags, rc, props=None):
        self.connack = (flags, rc)
        self.connected.set()

    def _on_disconnect(self, c, ud, rc, props=None):
        self.disconnected.set()

    def _on_message(self, c, ud, msg):
        with self.lock:
            self.messages.append((msg.topic, msg.payload, msg.qos,
                                  int(msg.retain)))

    def _on_subscribe(self, c, ud, mid, granted, props=None):
        with self.lock:
            self.subacks[mid] = granted

    def _on_publish(self, c, ud, mid):
        with self.lock:
            self.pubacks.add(mid)

    def connect(self, timeout=5.0):
        kw = {}
        if self.version == 5:
            from paho.mqtt.properties import Properties
            from paho.mqtt.packettypes import PacketTypes
            props = Properties(PacketTypes.CONNECT)
            if self.session_expiry is not None:
                props.SessionExpiryInterval = self.session_expiry
            kw["properties"] = props
            kw["clean_start"] = self.clean
        self.connected.clear()
        self.disconnected.clear()
        self.c.connect(HOST, self.port, keepalive=self.keepalive, **kw)
        self.c.loop_start()
        if not self.connected.wait(timeout):
            raise TestFailure("Paho client: no CONNACK within %.0fs"
                              % timeout)
        return self.connack

    def subscribe(self, topic, qos=0, timeout=5.0):
        rc, mid = self.c.subscribe(topic, qos)
        check(rc == 0, "Paho subscribe rc %r" % rc)
        wait_for(lambda: mid in self.subacks, timeout, "SUBACK (Paho)")
        return self.subacks[mid]

    def publish(self, topic, payload, qos=0, retain=False, timeout=5.0):
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        if qos > 0:
            wait_for(lambda: info.mid in self.pubacks, timeout,
                     "PUBACK/PUBCOMP for Paho publish")
        return info

    def wait_count(self, n, timeout=5.0):
        try:
            wait_for(lambda: len(self.messages) >= n, timeout,
                     "%d messages at Paho client" % n)
        except TestFailure as e:
            raise TestFailure("%s (got %d)" % (e, len(self.messages)))
        with self.lock:
            return list(self.messages)

    def disconnect(self, timeout=5.0):
        self.c.disconnect()
        self.disconnected.wait(timeout)
        self.c.loop_stop()

    def close(self):
        try:
            self.c.disconnect()
        except Exception:
            pass
        try:
            self.c.loop_stop()
        except Exception:
            pass


# --------------------------------------------------------------------------
# entry point

def _dump_logs():
    for b in _brokers:
        sys.stderr.write("----- %s log (%s) -----\n" % (b.name, b.log_path))
        text = b.log()
        if len(text) > 60000:
            text = "[... %d bytes cut ...]\n" % (len(text) - 60000) + \
                text[-60000:]
        sys.stderr.write(text)
        sys.stderr.write("----- end of %s log -----\n" % b.name)


def main(fn):
    """Run fn and exit with the automake status."""
    code = EXIT_ERROR
    try:
        log("%s against %s" % (test_name(), BROKER_KIND))
        fn()
        # a test that forgot to stop a broker: stop it now and check
        for b in _brokers:
            if b.alive():
                b.stop()
        code = EXIT_PASS
    except Skip as e:
        log("SKIP: %s" % e)
        code = EXIT_SKIP
    except HarnessError as e:
        log("HARD ERROR: %s" % e)
        code = EXIT_ERROR
    except (TestFailure, AssertionError) as e:
        traceback.print_exc()
        log("FAIL: %s" % e)
        code = EXIT_FAIL
    except Exception as e:  # noqa
        # an unexpected exception in the test is a failure of the broker
        # more often than not (e.g. ConnectionResetError)
        traceback.print_exc()
        log("FAIL (exception): %r" % e)
        code = EXIT_FAIL
    except KeyboardInterrupt:
        code = EXIT_ERROR
    finally:
        _reap_all()
        if code in (EXIT_FAIL, EXIT_ERROR):
            _dump_logs()
            if _tmp_root:
                log("kept temp dir %s" % _tmp_root)
        elif _tmp_root and os.environ.get("TERN_TEST_KEEP") != "1":
            shutil.rmtree(_tmp_root, ignore_errors=True)
    log("exit %d" % code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


# --------------------------------------------------------------------------
# bystanders: prove that a bad client only closed its own connection

class Bystander:
    """A subscriber connected before some misbehaving client; check()
    proves that the broker still serves it (a message published by a new
    client reaches it) and that it is still connected."""

    _n = 0

    def __init__(self, port, version=4):
        import mqttraw
        Bystander._n += 1
        self.port = port
        self.version = version
        self.topic = "bystander/%d" % Bystander._n
        self.c = mqttraw.Client(port, version=version)
        self.c.connect("bystander-%d" % Bystander._n)
        self.c.subscribe(self.topic, qos=1)
        self.count = 0

    def check(self):
        import mqttraw
        self.count += 1
        payload = b"still-here-%d" % self.count
        p = mqttraw.Client(self.port, version=self.version)
        p.connect("bystander-pub-%d-%d" % (Bystander._n, self.count))
        p.publish(self.topic, payload, qos=1)
        p.disconnect()
        m = self.c.recv_publish(timeout=3.0)
        check_eq((m.topic, m.payload), (self.topic, payload),
                 "bystander still receives")
        self.c.ping()

    def close(self):
        self.c.disconnect()


def expect_rejected(port, data, version=4, connect=True, disconnect_rc=None,
                    allowed_rc=None, client_id=None, timeout=3.0,
                    what="bad packet"):
    """Open a raw connection (CONNECT first if connect), send data, and
    check that the broker closes it within timeout.

    disconnect_rc: reason code of the DISCONNECT a v5 client must get
    before the close (required against ternd; against mosquitto a missing
    DISCONNECT is tolerated, the spec says SHOULD).
    allowed_rc: reason codes accepted if a DISCONNECT comes (when none is
    required). Returns the packets received before the close."""
    import mqttraw
    c = mqttraw.Client(port, version=version)
    if connect:
        c.connect(client_id or "bad-client-%d" % version)
    try:
        c.send(data)
    except OSError:
        pass
    try:
        got = c.wait_closed(timeout)
    except AssertionError as e:
        raise TestFailure("%s: %s" % (what, e))
    finally:
        c.close()
    discs = [p for p in got if p.type == mqttraw.DISCONNECT]
    others = [p for p in got if p.type not in (mqttraw.DISCONNECT,
                                               mqttraw.CONNACK)]
    check(not others, "%s: unexpected packets before close: %r"
          % (what, others))
    if version == 5 and disconnect_rc is not None:
        if discs or not is_mosquitto():
            check(len(discs) == 1, "%s: v5 client gets one DISCONNECT "
                  "before close, got %r" % (what, got))
            check_eq(discs[0].reason, disconnect_rc,
                     "%s: DISCONNECT reason" % what)
        else:
            log("%s: mosquitto closed without DISCONNECT" % what)
    elif discs:
        check(version == 5, "%s: DISCONNECT sent to a 3.1.1 client" % what)
        if allowed_rc is not None:
            check(discs[0].reason in allowed_rc, "%s: DISCONNECT reason "
                  "%#x not in %r" % (what, discs[0].reason, allowed_rc))
    log("%s (v%d): closed, received %r" % (what, version, got))
    return got
