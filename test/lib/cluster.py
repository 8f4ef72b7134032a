"""Clusters of real ternd processes on 127.0.0.1 for the 30-cluster tests.

Cluster(n) starts n nodes named n1..nN, each with a client listener (free
port) and a cluster listener (a port picked here, so that every node can
list every other in cluster_peers, itself included, as an operator's one
config for all nodes would), and waits until every node has its links to
every other node up. Nodes stop (by PID) when the with-block ends, even
when the test fails.
"""

import os
import re
import socket
import threading
import time

import mqttraw as raw
from harness import (Broker, HOST, TestFailure, check, free_port, log,
                     tern_only, wait_for)

SECRET = "s3cret-for-tests"


class Cluster:
    def __init__(self, n=3, conf=(), node_conf=None, start=True,
                 grace=60, sync_timeout=2000, secrets=None):
        tern_only("a tern cluster")
        self.names = ["n%d" % (i + 1) for i in range(n)]
        self.cports = [free_port() for _ in range(n)]
        self.peers = " ".join("%s:%d" % (HOST, p) for p in self.cports)
        self.nodes = []
        for i, name in enumerate(self.names):
            lines = ["node_name %s" % name,
                     "cluster_listener %s:%d" % (HOST, self.cports[i]),
                     "cluster_peers %s" % self.peers,
                     "cluster_secret %s" % ((secrets or {}).get(name)
                                            or SECRET),
                     "cluster_route_grace %d" % grace,
                     "cluster_sync_timeout %d" % sync_timeout]
            lines += list(conf)
            if node_conf and name in node_conf:
                lines += list(node_conf[name])
            self.nodes.append(Broker(conf=lines, name=name, start=False))
        if start:
            self.start()

    def __getitem__(self, i):
        return self.nodes[i]

    def __len__(self):
        return len(self.nodes)

    def start(self):
        # The cluster ports were picked free before any node bound them:
        # another test may take one meanwhile. Then start again on fresh
        # ports (a few times at most).
        for attempt in range(3):
            try:
                for b in self.nodes:
                    b.start()
                break
            except TestFailure:
                if attempt == 2 or not any(
                        b.proc is not None and
                        "Address already in use" in b.log()
                        for b in self.nodes):
                    raise
                log("a cluster port was taken meanwhile: new ports")
                for b in self.nodes:
                    if b.alive():
                        b.kill9()
                self._new_ports()
        self.wait_links()
        return self

    def _new_ports(self):
        old = ["%s:%d" % (HOST, p) for p in self.cports]
        self.cports = [free_port() for _ in self.nodes]
        new = ["%s:%d" % (HOST, p) for p in self.cports]
        peers = " ".join(new)
        for b in self.nodes:
            b.conf = [("cluster_listener %s" % new[old.index(c.split()[1])]
                       if c.startswith("cluster_listener ") else
                       "cluster_peers %s" % peers
                       if c.startswith("cluster_peers ") else c)
                      for c in b.conf]
        self.peers = peers

    def links_up(self, i):
        """Names of the nodes node i's outbound links are up to now."""
        text = self.nodes[i].log()
        state = {}
        for m in re.finditer(r"cluster link to (\S+) \(\S+\) (up|down)",
                             text):
            state[m.group(1)] = m.group(2)
        return {k for k, v in state.items() if v == "up"}

    def wait_links(self, timeout=15.0, nodes=None, among=None):
        """Wait until each live node of nodes (default: all) has its links
        up to every other live node of among (default: all)."""
        idx = range(len(self.nodes)) if nodes is None else nodes
        peers = range(len(self.nodes)) if among is None else among

        def all_up():
            for i in idx:
                if not self.nodes[i].alive():
                    continue
                want = {self.names[j] for j in peers
                        if j != i and self.nodes[j].alive()}
                if not want <= self.links_up(i):
                    return False
            return True
        wait_for(all_up, timeout, "cluster links up")

    def restart(self, i, graceful=True):
        """Stop node i (SIGTERM, or SIGKILL) and start it again on its
        ports; waits for its links both ways."""
        b = self.nodes[i]
        if graceful:
            b.stop()
        else:
            b.kill9()
        b._fixed_port = b.port
        b.start()
        self.wait_links()

    def index(self, name):
        return self.names.index(name)

    def stop(self):
        err = None
        for b in self.nodes:
            try:
                b.stop()
            except Exception as e:  # noqa
                err = err or e
            finally:
                b._force_kill()
        if err is not None:
            raise err

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            self.stop()
        else:
            for b in self.nodes:
                try:
                    b.stop(expect_rc=None)
                except Exception as e:  # noqa
                    log("while stopping %s after failure: %s" % (b.name, e))
                finally:
                    b._force_kill()
        return False


# --------------------------------------------------------------------------
# $SYS topics of one node (config "sys_interval 1")

SYS_CONF = "sys_interval 1"
SYS = "$SYS/broker/"


def sys_node(name, what):
    """The $SYS topic of what ("link", "routes", "forwarded", "received",
    "queued") about node name."""
    return "%scluster/nodes/%s/%s" % (SYS, name, what)


class SysWatch:
    """A raw subscriber to $SYS/broker/# on one node, read by a thread:
    .values holds the last payload of each topic (text), .ticks counts the
    $SYS/broker/uptime messages (one per sys_interval: it changes every
    second). ternd publishes a $SYS value only when it changed, retained,
    so the last one received is the node's current value."""

    def __init__(self, port, name="sys"):
        self.port = port
        self.lock = threading.Lock()
        self.values = {}
        self.ticks = 0
        self.error = None
        self.c = raw.Client(port, version=raw.V311)
        self.c.connect("%s-watch-%d" % (name, port), keepalive=0)
        self.c.subscribe(SYS + "#", qos=0)
        self.stopping = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stopping:
            try:
                p = self.c.recv(0.2)
            except socket.timeout:
                continue
            except Exception as e:  # noqa: closed, or the socket shut
                if not self.stopping:
                    self.error = e
                return
            if p.type != raw.PUBLISH:
                continue
            with self.lock:
                self.values[p.topic] = p.payload.decode(errors="replace")
                if p.topic == SYS + "uptime":
                    self.ticks += 1

    def get(self, topic, default=None):
        with self.lock:
            return self.values.get(topic, default)

    def num(self, topic):
        v = self.get(topic)
        return None if v is None else int(v)

    def _alive(self):
        if self.error is not None:
            raise TestFailure("$SYS watcher on port %d: %r"
                              % (self.port, self.error))

    def wait(self, topic, pred, timeout=15.0, what=None):
        """Wait until pred(value of topic) is true (value None until the
        topic is seen); returns the value."""
        def ok():
            self._alive()
            v = self.get(topic)
            return v is not None and pred(v)
        try:
            wait_for(ok, timeout, what or topic)
        except TestFailure as e:
            raise TestFailure("%s (last value %r)" % (e, self.get(topic)))
        return self.get(topic)

    def wait_eq(self, topic, value, timeout=15.0):
        return self.wait(topic, lambda v: v == str(value), timeout,
                         "%s == %r" % (topic, str(value)))

    def wait_num(self, topic, pred, timeout=15.0, what=None):
        return int(self.wait(topic, lambda v: pred(int(v)), timeout,
                             what or topic))

    def settle(self, timeout=15.0):
        """Wait until every value of a $SYS round that began after this
        call has been received. The uptime message opens each round; the
        round after the next one to arrive began at least sys_interval
        after it (so after the call), and its values are all in once the
        uptime of the round after it arrives (one connection, in order):
        three ticks."""
        start = self.mark()
        wait_for(lambda: self.settled(start), timeout,
                 "3 $SYS rounds on port %d" % self.port)

    def mark(self):
        return self.ticks

    def settled(self, mark):
        self._alive()
        return self.ticks >= mark + 3

    def close(self):
        self.stopping = True
        self.t.join(2)
        self.c.disconnect()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
        return False


def settle_all(watches, timeout=15.0):
    """SysWatch.settle() of several nodes at once."""
    marks = [w.mark() for w in watches]
    wait_for(lambda: all(w.settled(m) for w, m in zip(watches, marks)),
             timeout, "3 $SYS rounds on every node")


# --------------------------------------------------------------------------
# shared subscriptions (30-cluster-shared*.py)

def pump(rs, cond, timeout, what):
    """Receive and acknowledge on every storeutil.Receiver of rs (a few
    ms each, in turn) until cond()."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TestFailure("timed out after %.0fs waiting for %s (%s)"
                              % (timeout, what, ", ".join(
                                  "%s: %d" % (r.client_id, len(r.delivered))
                                  for r in rs)))
        for r in rs:
            while True:
                try:
                    p = r.recv(0.01)
                except socket.timeout:
                    break
                r.handle(p)


def shared_round(port, members, plains, topic, tag, n=200):
    """Publish n QoS 1 messages to topic on the node of port; every one
    reaches exactly one of members (Receivers subscribed to a $share
    filter matching topic) and every member gets at least one; each
    Receiver of plains (plain subscribers) gets all n, in order, once."""
    from storeutil import Publisher, payloads, summary
    for r in members + plains:
        r.delivered.clear()
    p = Publisher(port, "shared-pub-%s" % tag, version=raw.V5)
    want = list(p.publish_acked(topic, payloads(tag, n), qos=1))
    check(len(want) == n, "%s: %d of %d acknowledged" % (tag, len(want), n))
    p.close()
    pump(members + plains,
         lambda: sum(len(r.delivered) for r in members) >= n and
         all(len(r.delivered) >= n for r in plains), 30.0,
         "%s: %d messages at the members (and plain subscribers)"
         % (tag, n))
    # anything more would be a message delivered twice
    for r in members + plains:
        r.expect_quiet(0.5)
    got = [d[1] for r in members for d in r.delivered]
    dups = sorted({g for g in got if got.count(g) > 1})
    check(not dups, "%s: messages delivered to two members: %s"
          % (tag, summary(dups, 3)))
    check(sorted(got) == sorted(want), "%s: the members' union is not the "
          "%d payloads (got %d)" % (tag, n, len(got)))
    for r in plains:
        check([d[1] for d in r.delivered] == want, "%s: plain subscriber "
              "%s got %s" % (tag, r.client_id,
                             summary([d[1] for d in r.delivered], 3)))
    per = {r.client_id: len(r.delivered) for r in members}
    log("%s: per member %r" % (tag, per))
    for r in members:
        check(len(r.delivered) >= 1, "%s: member %s got none of the %d "
              "messages (per member: %r)" % (tag, r.client_id, n, per))
        check(all(d[2] == 1 for d in r.delivered), "%s: delivered at QoS "
              "1 to %s" % (tag, r.client_id))
    return per
