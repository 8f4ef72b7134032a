"""A ternd cluster whose node links all pass through fault proxies
(stdlib only, Python 3.11), for bench/soak-cluster.py and the
31-cluster-fault-*.py tests.

Topology (N nodes, n1..nN, on 127.0.0.1):

    node i --- link proxy P(i,j) ---> cluster listener of node j

  - one proxy per DIRECTED pair (test/lib/faultproxy.py, all in one
    process): node i's ``cluster_peers`` lists P(i,j) for every j != i,
    so the link node i dials to node j (what i sends to j) passes
    through P(i,j) and nothing else does;
  - each node's ``cluster_advertise`` is ADVERTISE, an address that
    does not resolve (an IPv6 link-local address with a scope that names
    no interface: getaddrinfo() fails at once, without a DNS query). A
    node that is dialled by a peer it has no link to yet dials the
    peer's advertised address back (discovery, bridge/link.c); that dial
    never gets as far as a connection here, so every link is one of the
    configured, proxied ones (each node dials its cluster_peers on its
    own, so nothing is missing). An address that refuses connections
    would not do: while such a discovery dial is connecting, a CONNACK
    on the configured dial finds the peer "linked already" and gives
    the configured dial up for good (seen once in a 30-run soak; see
    link_connack()). Checked: ``links_ok()`` requires each node's
    outbound links to be up through the expected P(i,j), and a log line
    "linked already via" makes ``topology_broken()`` true;
  - so node k is cut off completely by the proxies P(k,*) and P(*,k)
    (``partition(k)``), made half-open by stalling them (``stall(k)``),
    and every link gets a latency with ``latency(ms)``.

Clients connect to the nodes' client listeners (fixed ports, kept across
a kill -9 and restart), or, with ``client_proxies=(users, pubs)``,
through a second proxy process: one proxy per (user, node) and one per
(publisher, node), so that a user's connection can be cut, stalled or
throttled wherever it roams without touching anyone else's.

Nodes are harness.Broker objects (ready file, logs, kill -9, sanitizer
check at stop); everything is stopped by PID in ``close()``.
"""

import os
import re
import shutil
import socket
import time

import harness
from harness import Broker, HOST, free_port, log
from soakutil import ProxyProcess, SetupError

SECRET = "s3cret-fault-cluster"
ADVERTISE = "[fe80::1%tern-no-such-if]:1"
LINK_RE = re.compile(r"cluster link to (\S+) \((\S+)\) (up|down)")
START_MARK = "=== harness: starting broker ==="


class NodeLog:
    """Incremental reader of a node's log: the state of its outbound
    links (name -> (label, up)), reset when the node starts again."""

    def __init__(self, broker):
        self.b = broker
        self.off = 0
        self.links = {}
        self.already = []     # "linked already via" lines
        self.partial = b""

    def poll(self):
        try:
            with open(self.b.log_path, "rb") as f:
                f.seek(self.off)
                data = f.read()
        except OSError:
            return
        self.off += len(data)
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        for raw_line in lines:
            line = raw_line.decode(errors="replace")
            if START_MARK in line:
                self.links = {}
                continue
            m = LINK_RE.search(line)
            if m:
                self.links[m.group(1)] = (m.group(2), m.group(3) == "up")
            elif "linked already via" in line:
                self.already.append(line)


class FaultCluster:
    def __init__(self, n=3, conf=(), client_proxies=None, log_level="info",
                 grace=60, sync_timeout=2000, workdir=None, tag=""):
        self.n = n
        self.tag = tag
        self.names = ["n%d" % (i + 1) for i in range(n)]
        self.conf = list(conf)
        self.log_level = log_level
        self.grace = grace
        self.sync_timeout = sync_timeout
        self.client_proxies = client_proxies
        self.workdir = workdir or harness.tmp_root()
        self.nodes = []
        self.logs = []
        self.links = None         # ProxyProcess of the node links
        self.clients = None       # ProxyProcess of the clients, or None
        self.pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
        self.latency_ms = 0
        self.cports = []
        self.ports = []

    # -- indices
    def link(self, i, j):
        """Index (in the link proxy process) of P(i,j): i dials j."""
        return self.pairs.index((i, j))

    def node_links(self, k):
        """Indices of every proxy of a link to or from node k."""
        return [x for x, (i, j) in enumerate(self.pairs) if k in (i, j)]

    def user_proxy(self, uid, node):
        return uid * self.n + node

    def pub_proxy(self, pidx, node):
        return self.client_proxies[0] * self.n + pidx * self.n + node

    # -- start
    def start(self):
        for attempt in range(3):
            try:
                self._start_once()
                return self
            except (harness.TestFailure, SetupError) as e:
                busy = any("Address already in use" in b.log()
                           for b in self.nodes)
                self._teardown()
                for b in self.nodes:
                    shutil.rmtree(b.dir, ignore_errors=True)
                if attempt == 2 or not busy:
                    raise
                log("a port was taken meanwhile (%s): new ports" % e)
        return self

    def _start_once(self):
        n = self.n
        self.cports = [free_port() for _ in range(n)]
        self.ports = [free_port() for _ in range(n)]
        self.links = ProxyProcess(
            [(HOST, self.cports[j]) for (i, j) in self.pairs],
            os.path.join(self.workdir, "link-proxies.log"))
        self.nodes, self.logs = [], []
        for i, name in enumerate(self.names):
            peers = " ".join("%s:%d" % (HOST, self.links.ports[
                self.link(i, j)]) for j in range(n) if j != i)
            lines = ["node_name %s" % name,
                     "cluster_listener %s:%d" % (HOST, self.cports[i]),
                     "cluster_peers %s" % peers,
                     "cluster_advertise %s" % ADVERTISE,
                     "cluster_secret %s" % SECRET,
                     "cluster_route_grace %d" % self.grace,
                     "cluster_sync_timeout %d" % self.sync_timeout,
                     "max_queued_messages 100000000",
                     "log_level %s" % self.log_level] + self.conf
            b = Broker(conf=lines, name=self.tag + name, verbose=False,
                       start=False)
            b._fixed_port = self.ports[i]
            self.nodes.append(b)
            self.logs.append(NodeLog(b))
        for b in self.nodes:
            b.start()
        if self.client_proxies:
            users, pubs = self.client_proxies
            targets = [(HOST, self.ports[k]) for _ in range(users + pubs)
                       for k in range(n)]
            self.clients = ProxyProcess(
                targets, os.path.join(self.workdir, "client-proxies.log"))
        if not self.wait_links(30.0):
            raise SetupError("cluster links not up within 30 s: %s"
                             % self.link_report())

    # -- links
    def expected_label(self, i, j):
        return "%s:%d" % (HOST, self.links.ports[self.link(i, j)])

    def links_ok(self):
        """Every live node has its outbound links up to every other live
        node, each through its own proxy."""
        for lg in self.logs:
            lg.poll()
        for i in range(self.n):
            if not self.nodes[i].alive():
                continue
            for j in range(self.n):
                if j == i or not self.nodes[j].alive():
                    continue
                st = self.logs[i].links.get(self.names[j])
                if st is None or not st[1]:
                    return False
                if st[0] != self.expected_label(i, j):
                    return False
        return True

    def topology_broken(self):
        for lg in self.logs:
            lg.poll()
        out = []
        for i in range(self.n):
            for j in range(self.n):
                st = self.logs[i].links.get(self.names[j])
                if st is not None and st[0] != self.expected_label(i, j):
                    out.append("%s->%s via %s" % (self.names[i],
                                                  self.names[j], st[0]))
            out += self.logs[i].already
        return out

    def link_report(self):
        for lg in self.logs:
            lg.poll()
        return "; ".join("%s: %s" % (self.names[i], ", ".join(
            "%s %s %s" % (k, v[0], "up" if v[1] else "down")
            for k, v in sorted(self.logs[i].links.items())) or "none")
            for i in range(self.n))

    def link_up(self, i, j):
        """Node i's outbound link to node j is up (its log says so)."""
        self.logs[i].poll()
        st = self.logs[i].links.get(self.names[j])
        return st is not None and st[1]

    def wait_log(self, k, text, timeout):
        """Wait (at most timeout s) until node k's log has text."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.nodes[k].log():
                return True
            time.sleep(0.05)
        return text in self.nodes[k].log()

    def wait_links(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.links_ok():
                return True
            time.sleep(0.1)
        return self.links_ok()

    # -- faults
    def _each(self, idx, verb):
        for x in idx:
            self.links.cmd("%d %s" % (x, verb))

    def latency(self, ms):
        self.latency_ms = ms
        self.links.cmd("latency %g" % ms)

    def partition(self, k, seconds=None):
        """Cut node k off from every other node: its links both ways are
        reset and new ones refused until heal()."""
        self._each(self.node_links(k), "partition%s" % (
            " %g" % seconds if seconds else ""))

    def stall(self, k, seconds=None, discard=False):
        """Node k's links both ways go half-open: nothing passes, nothing
        closes, until heal()."""
        self._each(self.node_links(k), "stall%s%s" % (
            " %g" % seconds if seconds else "",
            " discard" if discard else ""))

    def heal(self):
        self.links.cmd("heal")

    def kill(self, k):
        b = self.nodes[k]
        pid = b.pid
        b.kill9()
        return pid

    def start_node(self, k):
        b = self.nodes[k]
        for attempt in range(5):
            try:
                b.start()
                return b.pid
            except (harness.TestFailure, harness.HarnessError):
                time.sleep(0.5)
        raise SetupError("%s does not start again (see its log)"
                         % self.names[k])

    def alive(self, k):
        return self.nodes[k].alive()

    # -- stop
    def stop_nodes(self):
        """SIGTERM every node; returns {name: exit status or error}."""
        out = {}
        for b in self.nodes:
            if b.proc is None or b.proc.poll() is not None:
                continue
            try:
                out[b.name] = b.stop(expect_rc=None)
            except harness.TestFailure as e:
                out[b.name] = "stop failed: %s" % e
            finally:
                b._force_kill()
        return out

    def _teardown(self):
        for b in self.nodes:
            try:
                b._force_kill()
                if b._logf:
                    b._logf.close()
                    b._logf = None
            except Exception:  # noqa
                pass
        for p in (self.clients, self.links):
            if p is not None:
                p.close()
        self.clients = self.links = None

    def close(self):
        self._teardown()

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.close()
        return False


# --------------------------------------------------------------------------
# the body of the 31-cluster-fault-*.py tests

def drain_quiet(r, quiet=2.0, bound=15.0):
    """Receive and acknowledge (storeutil.Receiver r) until nothing has
    come for quiet s, at most bound s."""
    deadline = time.monotonic() + bound
    last = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - last < quiet:
        try:
            p = r.recv(0.2)
        except socket.timeout:
            continue
        r.handle(p)
        last = time.monotonic()


def move_all(users, tl=None):
    """Every user disconnects and connects to another node than the one
    it is on (its session moves)."""
    for u in users:
        u.move_away = True
        u.roam()
    if tl is not None:
        tl.add("move-all", "every user to another node")

def fault_round(tag, fault=None, latency=0, roam=0.0, users=6, rate=60.0,
                seconds=8.0, seed=31, log_level="debug"):
    """Three nodes, node links through proxies (latency ms each way),
    ``users`` persistent QoS 2 subscribers (3.1.1 and 5 in turn) on
    random nodes, roaming every ``roam`` s on average (0.5-1.5 times; 0:
    only when their connection drops), and one publisher per node
    sending QoS 1 and QoS 2 to random users at ``rate`` msg/s in all for
    ``seconds``. fault(fc, tl, users) -> a list of (run time, action):
    each action (a callable) runs at its time, while messages flow;
    ``move_all(users)`` makes every user reconnect to another node.
    Then the faults end (heal, every node running), the links come back,
    the publishers finish their flows, every user reconnects to a random
    node and drains its queue until quiet (a second pass if something
    looks lost), and the test fails unless every acknowledged message
    (PUBACK / PUBREC reason < 0x80) was delivered, QoS 2 ones once. Every
    wait is bounded (the whole round well within 60 s)."""
    import random
    import threading
    import mqttraw as raw
    from harness import TestFailure, check, tern_only
    from soakutil import (Pub, Timeline, User, count, describe,
                          unreleased_oddities, wait_until)
    tern_only("a tern cluster under faults")
    rng = random.Random(seed)
    log("%s: seed %d, %d users, %g msg/s for %gs, link latency %g ms, "
        "roam every ~%gs" % (tag, seed, users, rate, seconds, latency,
                            roam))
    tl = Timeline()
    us, ps = [], []
    stop = threading.Event()
    errors = []
    with FaultCluster(3, log_level=log_level) as fc:
        try:
            if latency:
                fc.latency(latency)
            urng = random.Random(rng.randrange(1 << 30))

            def pick_user(u):
                k = urng.randrange(fc.n)
                if getattr(u, "move_away", False) and u.node in fc.names:
                    u.move_away = False
                    k = urng.choice([x for x in range(fc.n)
                                     if fc.names[x] != u.node])
                return fc.ports[k], fc.names[k]

            def pick_pub(p):
                k = int(p.name[1:]) % fc.n
                return fc.ports[k], fc.names[k]
            for uid in range(users):
                us.append(User(uid, raw.V311 if uid % 2 == 0 else raw.V5,
                               tl, pick_user, prefix=tag))
            for u in us:
                u.thread.start()
            check(wait_until(lambda: all(u.subscribed and u.connected
                                         for u in us), 20.0),
                  "users subscribed within 20 s: %s" % "; ".join(
                      u.state() for u in us if not u.subscribed))
            for i in range(fc.n):
                ps.append(Pub(i, raw.V311 if i % 2 == 0 else raw.V5,
                              rate / fc.n, rng.randrange(1 << 30), tl,
                              tag, users, pick_pub, size=64, window=16,
                              prefix=tag))
            t0 = tl.now()
            for p in ps:
                p.thread.start()
            check(wait_until(lambda: all(p.connected for p in ps), 10.0),
                  "publishers connected within 10 s")
            plan = sorted(fault(fc, tl, us), key=lambda x: x[0]) \
                if fault else []

            def driver():
                frng = random.Random(rng.randrange(1 << 30))
                nxt = {u.uid: t0 + frng.uniform(0.2, 1.5) * roam
                       for u in us} if roam else {}
                todo = list(plan)
                try:
                    while not stop.is_set():
                        now = tl.now()
                        while todo and now >= t0 + todo[0][0]:
                            todo.pop(0)[1]()
                        for u in us:
                            if u.uid in nxt and now >= nxt[u.uid]:
                                u.roam()
                                nxt[u.uid] = now + frng.uniform(
                                    0.5, 1.5) * roam
                        stop.wait(0.05)
                    for _, action in todo:   # late: run what is left
                        action()
                except Exception as e:  # noqa
                    errors.append(e)
            th = threading.Thread(target=driver, daemon=True)
            th.start()
            time.sleep(seconds)
            for p in ps:
                p.stop_sending.set()
            stop.set()
            th.join(20.0)
            check(not th.is_alive(), "fault driver stopped")
            if errors:
                raise errors[0]
            fc.heal()
            if latency:
                fc.latency(0)
            for k in range(fc.n):
                check(fc.alive(k), "%s running after the faults (exit "
                      "status %r)" % (fc.names[k],
                                      fc.nodes[k].proc.poll()))
            tl.add("faults", "over")
            check(fc.wait_links(15.0), "links back within 15 s of the "
                  "faults: %s" % fc.link_report())
            check(not fc.topology_broken(), "every link through its "
                  "proxy: %s" % fc.topology_broken())
            wait_until(lambda: all(not p.thread.is_alive() for p in ps),
                       10.0)
            undone = sum(len(p.inflight) for p in ps)
            check(undone == 0, "publishers finished their flows (%d left)"
                  % undone)

            def drain(what, quiet=2.0, bound=10.0):
                marks = {u.uid: u.connects_done for u in us}
                for u in us:
                    u.force_reconnect()
                ok = wait_until(lambda: all(u.quiet(quiet, marks[u.uid])
                                            for u in us), bound)
                log("%s: drain %s: %s" % (tag, what, "quiet" if ok else
                                          "not quiet: " + "; ".join(
                                              u.state() for u in us)))
                return ok
            drain("1")
            res = count(us, ps)
            if res["lost"]:
                log("%s: %d lost after one drain: once more" % (
                    tag, res["lost"]))
                drain("2")
                res = count(us, ps)
        finally:
            stop.set()
            for x in us + ps:
                x.stop.set()
            for x in us + ps:
                x.thread.join(10.0)
        rcs = fc.stop_nodes()
    slost = sum(u.session_lost for u in us)
    log("%s: sent %d, acknowledged %d, refused %d, lost %d, QoS 2 "
        "duplicates %d, QoS 1 duplicates %d, order inversions %d, roams "
        "%d, sessions found lost %d" % (
            tag, res["sent"], res["acked"], res["refused"], res["lost"],
            res["q2dup"], res["q1dup"], res["order"],
            sum(u.roams for u in us), slost))
    for e in tl.events:
        log("  %.3f %s %s" % e)
    check(all(rc == 0 for rc in rcs.values()), "nodes exit 0 on SIGTERM: "
          "%r" % rcs)
    check(res["acked"] > 0, "messages acknowledged")
    script = [o for o in res["oddities"] if "this script" in o or
              "bookkeeping" in o]
    check(not script, "the test's own bookkeeping: %s" % script)
    problems = []
    if res["lost"]:
        problems.append("%d of %d acknowledged messages lost, e.g.:\n%s"
                        % (res["lost"], res["acked"], "\n".join(
                            describe(m, res, us, ps, tl, window=2.0)
                            for m in res["lost_ids"][:3])))
    if res["q2dup"]:
        problems.append("%d QoS 2 messages delivered twice, e.g.:\n%s"
                        % (res["q2dup"], "\n".join(
                            describe(m, res, us, ps, tl, window=2.0)
                            for m in res["q2dup_ids"][:3])))
    for o in unreleased_oddities(us):
        # not a failure by itself (the message was delivered); a new
        # message the broker sends with that packet id would be dropped
        # by the client as a duplicate, and so counted lost
        log("%s: %s" % (tag, o))
    if problems:
        raise TestFailure("%s: %s" % (tag, "\n".join(problems)))
    return res
