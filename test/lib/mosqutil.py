"""A mosquitto broker started by a test as the remote end of a tern bridge
(test/integration/45-bridge-mosquitto-*.py): its own config and directory,
a port that stays the same across kill -9 and restart, stopped by PID.

Remote(name, persistent=True) keeps its sessions in a persistence file
saved every second or two (autosave_interval 1): after wait_saved(), what
was there before is there after a kill -9 and restart.

bridge_conf(remote, name, topics, ...) gives the lines of a tern
connection section that dials it (they must come last in a tern config:
every key after a connection line belongs to it).
"""

import os
import pwd
import signal
import subprocess
import time

from harness import (HOST, MOSQUITTO, TestFailure, check, free_port, log,
                     port_accepts, spawn, tmp_path, wait_for)


class Remote:
    START_TIMEOUT = 10.0

    def __init__(self, name="remote", persistent=False, extra=(),
                 start=True):
        self.name = name
        self.dir = tmp_path(name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.persistent = persistent
        self.extra = list(extra)
        self.conf_path = os.path.join(self.dir, "mosquitto.conf")
        self.log_path = os.path.join(self.dir, "mosquitto.log")
        self.proc = None
        self._logf = None
        if start:
            self.start()

    def _write_conf(self):
        lines = ["listener %d %s" % (self.port, HOST),
                 # as root mosquitto would run as user mosquitto, which
                 # may not write in the test's directory
                 "user %s" % pwd.getpwuid(os.getuid()).pw_name,
                 "allow_anonymous true",
                 "log_dest stderr",
                 "log_type all",
                 "max_queued_messages 10000"]
        if self.persistent:
            lines += ["persistence true",
                      "persistence_location %s/" % self.dir,
                      "autosave_interval 1"]
        else:
            lines.append("persistence false")
        lines += self.extra
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self):
        if self.alive():
            raise TestFailure("mosquitto %s already running" % self.name)
        self._write_conf()
        self._logf = open(self.log_path, "ab")
        self._logf.write(b"=== test: starting mosquitto ===\n")
        self._logf.flush()
        self.proc = spawn([MOSQUITTO, "-c", self.conf_path],
                          stdout=self._logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure("mosquitto %s exited at start (%r): %s"
                                  % (self.name, self.proc.returncode,
                                     self.log()[-2000:]))
            if port_accepts(self.port):
                return self
            time.sleep(0.05)
        raise TestFailure("mosquitto %s does not accept on port %d"
                          % (self.name, self.port))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _wait(self):
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        if self._logf is not None:
            self._logf.close()
            self._logf = None

    def kill9(self):
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
            self._wait()

    def stop(self):
        if self.alive():
            os.kill(self.proc.pid, signal.SIGTERM)
            self._wait()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def wait_saved(self, timeout=10.0):
        """Wait until the persistence file has been written twice from
        now: the second save began after whatever happened before."""
        mark = "Saving in-memory database"
        n = self.log().count(mark)
        wait_for(lambda: self.log().count(mark) >= n + 2, timeout,
                 "mosquitto %s saved its sessions" % self.name)
        check("Error saving" not in self.log(),
              "mosquitto %s cannot save its sessions" % self.name)

    def wait_log(self, text, timeout=5.0, since=0):
        return wait_for(lambda: text in self.log()[since:], timeout,
                        "%r in the log of mosquitto %s" % (text, self.name))

    def __enter__(self):
        return self

    def __exit__(self, *a):
        try:
            self.stop()
        except Exception as e:  # noqa
            log("while stopping mosquitto %s: %s" % (self.name, e))
        return False


def bridge_conf(remote, name, topics, version="mqttv50", clientid=None,
                extra=()):
    """The lines of a tern connection section named name that dials
    remote: topics is a list of topic line values."""
    lines = ["connection %s" % name,
             "address %s:%d" % (HOST, remote.port),
             "bridge_protocol_version %s" % version,
             "restart_timeout 1",
             "keepalive_interval 5",
             "remote_clientid %s" % (clientid or "tern-" + name)]
    lines += ["topic %s" % t for t in topics]
    lines += list(extra)
    return lines


def wait_bridge_up(broker, name, count=1, timeout=10.0):
    """Wait until broker's log says bridge name connected count times."""
    text = "bridge %s: connected to" % name
    wait_for(lambda: broker.log().count(text) >= count, timeout,
             "bridge %s connected (%d times)" % (name, count))
