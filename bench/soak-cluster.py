#!/usr/bin/env python3
"""bench/soak-cluster.py - a 3-node ternd cluster under faults: is what a
node acknowledged delivered, and QoS 2 exactly once?

The promise checked: once a node has answered PUBACK (QoS 1) or PUBREC
(QoS 2) with success (reason < 0x80), the message reaches its persistent
subscriber wherever that subscriber's session is, and a QoS 2 message
reaches it exactly once -- while users roam between nodes, a node is
killed, cut off, or its links go half-open, or the clients' own
connections are bad.

Each run of a scenario (--runs, default 5, of each of the scenarios):
  - 3 nodes n1..n3 on 127.0.0.1 (free ports, fresh data dirs under a
    temp dir), every node link through its own fault proxy, one per
    directed pair (test/lib/faultcluster.py has the topology: a node's
    cluster_advertise does not resolve, so no link bypasses the proxies; a node
    is cut off by the proxies of its 4 links);
  - --users (default 40) persistent subscribers of im/u/<uid> at QoS 2,
    even uids MQTT 3.1.1 (clean session 0), odd uids MQTT 5 (clean start
    0, session expiry 3600 s), each connected to a random node; their
    receiving state (QoS 2 packet ids awaiting PUBREL, what was delivered
    to the application) outlives reconnects (storeutil.Receiver). Each
    user roams: every --roam seconds on average (0.5-1.5 times that,
    default 5) it disconnects and connects to a random node; a dropped
    connection also reconnects to a random node (backoff 50 ms doubling
    to 1 s; keep alive 5 s);
  - --publishers (default 6), persistent sessions, each on a home node
    (p0 n1, p1 n2, p2 n3, ...; 3.1.1 and 5 alternating), send QoS 1 and
    QoS 2 (half each) to random users at --rate messages/s in total
    (default 500) for --seconds (default 30), at most --window (32)
    unacknowledged each; each payload carries a unique message id, the
    sender and its sequence. After a reconnect what was not acknowledged
    is sent again (DUP PUBLISH or PUBREL), as MQTT requires; a message
    refused (v5, reason >= 0x80) is not sent again and not counted;
  - the scenario's fault (one node, picked at random, 0.25-0.4 of the
    way into the traffic):
      roaming          none (roaming only)
      roaming-latency  --latency ms (30) each way on every node link
      kill             kill -9 of the node, restarted --kill-down s (5)
                       later on the same data dir and ports
      partition        the node cut off for --fault-secs (10): its links
                       both ways reset and refused; both sides keep
                       serving their clients (users roam to it and away)
      stall            the node's links both ways half-open for
                       --fault-secs: nothing passes, nothing closes (the
                       proxy holds the bytes and delivers them at the end)
      weak-clients     every client connection through its own proxy;
                       every --net-every s (0.5) on average a random
                       user's connection is cut, stalled 0.5-4 s (holding
                       or discarding bytes) or throttled to 1-5 KB/s for
                       1-4 s; a random publisher's connection is cut every
                       3-8 s; node links clean;
  - then the faults stop, links heal (waited for: every node's outbound
    links up through their proxies, at most 30 s), the publishers finish
    their flows (at most 30 s), every user reconnects to a random node
    and drains its queue until quiet (--quiet s, default 3, without a
    PUBLISH or PUBREL on the new connection; at most --drain s, 60). If
    something looks lost, a second pass: every user reconnects (to
    another random node) and drains again before anything is counted.
    If something is still lost, a post-mortem (--no-post-mortem to skip):
    every node is stopped (SIGTERM) and started again, and every user
    drains once more; what comes now was stuck in the running cluster
    ("stuck", still counted lost), the rest is gone.

Columns, per run:
  sent     messages published (first transmissions)
  acked    acknowledged with success (PUBACK / PUBREC reason < 0x80)
  lost     acknowledged, never delivered to the application   [must be 0]
  q2dup    QoS 2 message ids delivered to the application twice [must be 0]
  q1dup    QoS 1 message ids delivered more than once (informational)
  order    per-sender order inversions at a subscriber (informational)
  refused  answered with reason >= 0x80 (v5), not sent again
  noans    never answered (given up at the end of the run)
  roams    user reconnects to a random node asked by the roaming
  slost    connects that found the session gone (session present 0)
  stuck    of the lost, delivered only after the post-mortem restart
  cto      connects that got no CONNACK within 10 s (informational; a
           claim may wait up to 30 s for a session on its way)
  oddity   other anomalies (listed under the table): QoS 2 flows never
           released, packet ids reused while in a flow, drain timeouts,
           unexpected exits, links that did not come back, ...
  msg/s    achieved publish rate
Under the table, for each run with lost or duplicated messages, what
went with them (counts; one message may count in several): roam (its
user connected somewhere within 1 s of the ack: the session was
moving), fault (acknowledged during the node fault or within 1 s after
it), victim (published on the faulty node), 0x10 (acknowledged "no
matching subscribers"), slost (its user found its session gone at some
point), 2nodes (duplicate copies came from two nodes), dup1 (the second
copy had DUP set).
Exit status 0 only if every run has lost == 0 and q2dup == 0 (1 if not,
2 for a usage or set-up error). The logs of a run with lost or
duplicated messages or oddities (nodes' logs and configs, proxies' logs,
a timeline, each client's packet trace, summary.txt with every lost or
duplicated message: sender, node, user, times, where its user was, and
the nodes' log lines about that user around then) are kept under
--logs/<stamp>/<scenario>-run-NN/ (default /tmp/soak-cluster-logs).

  /usr/bin/python3 bench/soak-cluster.py [--ternd PATH] [--quick]
      [--runs N] [--scenario NAME[,NAME...]] [--seconds S] [--users N]
      [--rate R] [--seed N] ...
  --quick = 1 run of each scenario, 12 s of traffic, 5 s faults.
  --ternd defaults to build/run/broker/ternd. --help lists every option.
Every process it starts is stopped by PID, also on an error or Ctrl-C;
every wait is bounded.
"""

import argparse
import calendar
import collections
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(TOP, "test", "lib")
sys.path.insert(0, LIB)
import harness  # noqa: E402
import mqttraw as raw  # noqa: E402
from faultcluster import FaultCluster  # noqa: E402
from soakutil import (Pub, SetupError, Timeline, User, count,  # noqa: E402
                      describe, sleep_unless, unreleased_oddities,
                      wait_until)

SCENARIOS = ["roaming", "roaming-latency", "kill", "partition", "stall",
             "weak-clients"]
TAGS = {"roaming": "RO", "roaming-latency": "RL", "kill": "KI",
        "partition": "PA", "stall": "ST", "weak-clients": "WC"}
PUB_FINISH = 30.0
LINKS_WAIT = 30.0
JOIN = 10.0


# --------------------------------------------------------------------------
# faults and roaming, on one thread

class Faults:
    def __init__(self, scen, args, rng, fc, users, pubs, tl):
        self.scen, self.a, self.rng, self.fc = scen, args, rng, fc
        self.users, self.pubs, self.tl = users, pubs, tl
        self.stop = threading.Event()
        self.fatal = None
        self.kills = self.partitions = self.stalls = 0
        self.cuts = self.ustalls = self.throttles = self.pubcuts = 0
        self.unexpected = []
        self.victim = None
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name="faults")

    def n_faults(self):
        return (self.kills + self.partitions + self.stalls + self.cuts +
                self.ustalls + self.throttles + self.pubcuts)

    def check_nodes(self, expect_dead=()):
        for k in range(self.fc.n):
            if k in expect_dead or self.fc.alive(k):
                continue
            b = self.fc.nodes[k]
            rc = b.proc.returncode if b.proc is not None else None
            self.unexpected.append((self.tl.now(), self.fc.names[k], rc))
            self.tl.add("UNEXPECTED-EXIT", "%s pid %s exited with status %r"
                        % (self.fc.names[k], b.pid, rc))
            b.kill9()
            pid = self.fc.start_node(k)
            self.tl.add("ready", "%s pid %d (after an unexpected exit)"
                        % (self.fc.names[k], pid))

    def _user_fault(self):
        fc, rng = self.fc, self.rng
        u = rng.choice(self.users)
        idx = [fc.user_proxy(u.uid, k) for k in range(fc.n)]
        kind = rng.choices(("cut", "stall", "stall discard", "throttle"),
                           (2, 1, 1, 1))[0]
        undo = None
        if kind == "cut":
            for x in idx:
                fc.clients.cmd("%d cut" % x)
            self.cuts += 1
            u.ev("proxy: cut")
        elif kind.startswith("stall"):
            secs = rng.uniform(0.5, 4.0)
            for x in idx:
                fc.clients.cmd("%d stall %.2f%s" % (
                    x, secs, " discard" if "discard" in kind else ""))
            self.ustalls += 1
            u.ev("proxy: %s %.2fs" % (kind, secs))
        else:
            bps = rng.randint(1000, 5000)
            secs = rng.uniform(1.0, 4.0)
            for x in idx:
                fc.clients.cmd("%d bandwidth %d" % (x, bps))
            self.throttles += 1
            u.ev("proxy: throttle %d B/s for %.2fs" % (bps, secs))
            undo = (self.tl.now() + secs, [
                "%d bandwidth none" % x for x in idx])
        return undo

    def _run(self):
        a, rng, tl, fc = self.a, self.rng, self.tl, self.fc
        dur = a.seconds
        next_roam = {}
        if a.roam > 0:
            for u in self.users:
                next_roam[u.uid] = rng.uniform(0.1, 1.5) * a.roam
        fault_at = None
        if self.scen in ("kill", "partition", "stall"):
            fault_at = rng.uniform(0.25, 0.4) * dur
            self.victim = rng.randrange(fc.n)
        fault_end = None
        dead = set()
        weak = self.scen == "weak-clients"
        next_net = rng.expovariate(1.0 / a.net_every) if weak and \
            a.net_every else None
        next_pubcut = rng.uniform(3, 8) if weak else None
        undos = []
        try:
            while not self.stop.is_set():
                now = tl.now()
                self.check_nodes(dead)
                for u in self.users:
                    t = next_roam.get(u.uid)
                    if t is not None and now >= t:
                        if u.connected:
                            u.roam()
                        next_roam[u.uid] = now + rng.uniform(0.5, 1.5) * \
                            a.roam
                if fault_at is not None and now >= fault_at:
                    fault_at = None
                    k = self.victim
                    name = fc.names[k]
                    if self.scen == "kill":
                        pid = fc.kill(k)
                        dead.add(k)
                        self.kills += 1
                        tl.add("kill", "kill -9 %s pid %d" % (name, pid))
                        fault_end = tl.now() + a.kill_down
                    elif self.scen == "partition":
                        fc.partition(k)
                        self.partitions += 1
                        tl.add("partition", "%s cut off" % name)
                        fault_end = tl.now() + a.fault_secs
                    else:
                        fc.stall(k)
                        self.stalls += 1
                        tl.add("stall", "%s links half-open" % name)
                        fault_end = tl.now() + a.fault_secs
                elif fault_end is not None and now >= fault_end:
                    fault_end = None
                    k = self.victim
                    if self.scen == "kill":
                        pid = fc.start_node(k)
                        dead.discard(k)
                        tl.add("ready", "%s pid %d (restarted)"
                               % (fc.names[k], pid))
                    else:
                        fc.heal()
                        tl.add("heal", "%s" % fc.names[k])
                if next_net is not None and now >= next_net:
                    undo = self._user_fault()
                    if undo:
                        undos.append(undo)
                    next_net = now + rng.expovariate(1.0 / a.net_every)
                for undo in [x for x in undos if x[0] <= now]:
                    undos.remove(undo)
                    for c in undo[1]:
                        fc.clients.cmd(c)
                if next_pubcut is not None and now >= next_pubcut:
                    p = rng.choice(self.pubs)
                    for k in range(fc.n):
                        fc.clients.cmd("%d cut" % fc.pub_proxy(
                            int(p.name[1:]), k))
                    self.pubcuts += 1
                    p.ev("proxy: cut")
                    tl.add("pub-proxy-cut", p.cid)
                    next_pubcut = now + rng.uniform(3, 8)
                sleep_unless(self.stop, 0.05)
        except Exception as e:  # noqa
            self.fatal = e
            tl.add("faults-thread-error", traceback.format_exc())
        finally:
            # whatever happened: every fault ends with the traffic
            try:
                if fault_end is not None and self.scen == "kill":
                    fc.start_node(self.victim)
                    tl.add("ready", "%s (restarted at the end)"
                           % fc.names[self.victim])
                fc.heal()
                if fc.latency_ms:
                    fc.latency(0)
                if fc.clients is not None:
                    fc.clients.cmd("heal")
                    fc.clients.cmd("bandwidth none")
            except Exception as e:  # noqa
                self.fatal = self.fatal or e


# --------------------------------------------------------------------------
# the nodes' logs, for the summary of lost and duplicated messages

def parse_logs(fc, ids):
    """(epoch, node, line) of the lines of every node's log that name a
    client of ids or are about links, takeovers and sessions."""
    keys = ("cluster link", "takeover", "session", "claim", "moved",
            "routes", "UNEXPECTED", "reached", "silent", "refused here")
    out = []
    for b, name in zip(fc.nodes, fc.names):
        try:
            f = open(b.log_path, "rb")
        except OSError:
            continue
        with f:
            for raw_line in f:
                line = raw_line.decode(errors="replace").rstrip("\n")
                if len(line) < 25 or line[4] != "-" or line[23] != "Z":
                    continue
                if not (any(k in line for k in keys) or
                        any(i in line for i in ids)):
                    continue
                try:
                    t = calendar.timegm(time.strptime(line[:19],
                                                      "%Y-%m-%dT%H:%M:%S"))
                    t += int(line[20:23]) / 1000.0
                except ValueError:
                    continue
                out.append((t, name, line[24:]))
    out.sort(key=lambda x: x[0])
    return out


def log_extra(loglines, tl):
    def extra(msgid, r, u):
        ref = tl.wall0 + (r.t_ack or r.t_sent)
        near = [x for x in loglines if
                (ref - 5 <= x[0] <= ref + 5 and u.client_id in x[2]) or
                (ref - 2 <= x[0] <= ref + 2 and "cluster link" in x[2])]
        if not near:
            return ["  node logs around the ack: nothing about %s"
                    % u.client_id]
        return ["  node logs around the ack (%s +-5 s, links +-2 s):"
                % u.client_id] + [
            "    %.3f %s %s" % (x[0] - tl.wall0, x[1], x[2])
            for x in near[:40]] + (["    ..."] if len(near) > 40 else [])
    return extra


# --------------------------------------------------------------------------
# one run

def one_run(scen, rn, args, rng, stamp, workroot):
    tl = Timeline()
    st = collections.OrderedDict(scenario=scen, run=rn)
    rundir = os.path.join(workroot, "%s-%02d" % (scen, rn))
    os.makedirs(rundir, exist_ok=True)
    weak = scen == "weak-clients"
    fc = FaultCluster(3, log_level=args.log_level, workdir=rundir,
                      tag="%s-%02d-" % (scen, rn),
                      grace=args.route_grace,
                      client_proxies=(args.users, args.publishers)
                      if weak else None)
    users, pubs = [], []
    faults = None
    run_tag = "%s%d" % (TAGS[scen], rn)
    try:
        fc.start()
        tl.add("ready", "cluster up: %s" % fc.link_report())
        if scen == "roaming-latency":
            fc.latency(args.latency)
            tl.add("latency", "%g ms each way on every link"
                   % args.latency)
        urng = random.Random(rng.randrange(1 << 30))

        def pick_user(u):
            k = urng.randrange(fc.n)
            port = fc.clients.ports[fc.user_proxy(u.uid, k)] if weak \
                else fc.ports[k]
            return port, fc.names[k]

        def pick_pub(p):
            i = int(p.name[1:])
            k = i % fc.n
            port = fc.clients.ports[fc.pub_proxy(i, k)] if weak \
                else fc.ports[k]
            return port, fc.names[k]
        for uid in range(args.users):
            users.append(User(uid, raw.V311 if uid % 2 == 0 else raw.V5,
                              tl, pick_user))
        for u in users:
            u.thread.start()
        if not wait_until(lambda: all(u.subscribed and u.connected
                                      for u in users), 60.0):
            raise SetupError("users not all subscribed within 60 s: %s"
                             % "; ".join(u.state() for u in users
                                         if not u.subscribed))
        rate = args.rate / float(args.publishers)
        for i in range(args.publishers):
            pubs.append(Pub(i, raw.V311 if i % 2 == 0 else raw.V5, rate,
                            rng.randrange(1 << 30), tl, run_tag,
                            args.users, pick_pub, size=args.size,
                            window=args.window))
        t_start = tl.now()
        tl.add("traffic", "start")
        for p in pubs:
            p.thread.start()
        if not wait_until(lambda: all(p.connected for p in pubs), 30.0):
            raise SetupError("publishers not all connected within 30 s")
        faults = Faults(scen, args, random.Random(rng.randrange(1 << 30)),
                        fc, users, pubs, tl)
        faults.thread.start()
        time.sleep(args.seconds)
        for p in pubs:
            p.stop_sending.set()
        t_stop = tl.now()
        tl.add("traffic", "stop")
        faults.stop.set()
        faults.thread.join(60.0)
        if faults.thread.is_alive():
            raise SetupError("fault thread did not stop within 60 s")
        if faults.fatal is not None:
            raise SetupError("fault thread: %r" % faults.fatal)
        tl.add("faults", "stopped, healed")
        faults.check_nodes()
        odd = []
        if not fc.wait_links(LINKS_WAIT):
            odd.append("links not all up %.0f s after the faults: %s"
                       % (LINKS_WAIT, fc.link_report()))
        tl.add("links", fc.link_report())
        wait_until(lambda: all(not p.thread.is_alive() for p in pubs),
                   PUB_FINISH)
        tl.add("publishers", "done")
        faults.check_nodes()

        def drain(what):
            fc.wait_links(LINKS_WAIT)
            marks = {u.uid: u.connects_done for u in users}
            for u in users:
                u.force_reconnect()
            tl.add("drain", what)
            ok = wait_until(lambda: all(u.quiet(args.quiet, marks[u.uid])
                                        for u in users), args.drain)
            faults.check_nodes()
            if not ok:
                tl.add("drain", "timeout: %s" % "; ".join(
                    u.state() for u in users
                    if not u.quiet(args.quiet, marks[u.uid])))
            return ok
        drained = drain("first")
        res = count(users, pubs)
        passes = 1
        lost_first = None
        if res["lost"] or not drained:
            time.sleep(1.0)
            drained = drain("second (to confirm)")
            lost_first = res["lost"]
            res = count(users, pubs)
            passes = 2
        tl.add("drain", "done, %d pass(es), %d lost" % (passes,
                                                         res["lost"]))
        stuck = []
        if res["lost"] and args.post_mortem:
            tl.add("post-mortem", "SIGTERM and restart of every node")
            for u in users:
                u.stop.set()
            for u in users:
                u.thread.join(JOIN)
            rcs = fc.stop_nodes()
            tl.add("post-mortem", "exit statuses %r" % rcs)
            for k in range(fc.n):
                fc.start_node(k)
            # a node that accepts a CONNECT before its links are up
            # claims from nobody: wait for them before anyone connects
            if not fc.wait_links(LINKS_WAIT):
                odd.append("links not all up %.0f s after the post-mortem "
                           "restart: %s" % (LINKS_WAIT, fc.link_report()))
            # the users go on with their state, on new threads
            for u in users:
                u.stop.clear()
                u.force.clear()
                u.thread = threading.Thread(target=u._run, daemon=True,
                                            name=u.client_id)
                u.thread.start()
            drain("after the post-mortem restart")
            res3 = count(users, pubs)
            stuck = sorted(set(res["lost_ids"]) - set(res3["lost_ids"]))
            tl.add("post-mortem", "%d of %d lost came now"
                   % (len(stuck), res["lost"]))
        for u in users:
            u.stop.set()
        for p in pubs:
            p.stop.set()
        for t in [u.thread for u in users] + [p.thread for p in pubs]:
            t.join(JOIN)
        rcs = fc.stop_nodes()
        tl.add("stop", "SIGTERM: exit statuses %r" % rcs)

        st["sent"] = res["sent"]
        for k in ("acked", "lost", "q2dup", "q1dup", "order", "refused",
                  "noans", "unackd", "id_reuse_lost"):
            st[k] = res[k]
        st["roams"] = sum(u.roams for u in users)
        st["slost"] = sum(u.session_lost for u in users) + \
            sum(p.session_lost for p in pubs)
        st["stuck"] = len(stuck)
        st["cto"] = sum(1 for x in users + pubs for _, e in x.events
                        if "timed out waiting for CONNACK" in e)
        st["lost_first_pass"] = lost_first
        st["faults"] = faults.n_faults()
        st["rate"] = st["sent"] / max(0.001, t_stop - t_start)
        for t, name, code in faults.unexpected:
            odd.append("%s exited by itself at %.2fs, status %r"
                       % (name, t, code))
        for name, rc in rcs.items():
            if rc not in (0, None):
                odd.append("%s exit status %r on SIGTERM" % (name, rc))
        if not drained:
            odd.append("drain timeout")
        odd += unreleased_oddities(users)
        for x in users + pubs:
            odd += x.oddities
        odd += res["oddities"]
        broken = fc.topology_broken()
        if broken:
            odd.append("topology broken (a link bypassed its proxy): %s"
                       % "; ".join(broken[:3]))
        undone = sum(len(p.inflight) for p in pubs)
        if undone:
            odd.append("%d publisher flows unfinished at the end of the run"
                       % undone)
        st["oddities"] = odd
        st["victim"] = fc.names[faults.victim] \
            if faults.victim is not None else "-"
        st["why"] = classify(res, users, tl, st["victim"]
                             if faults.victim is not None else None)
        bad = st["lost"] or st["q2dup"] or odd
        if bad or args.keep_logs:
            st["logdir"] = save_logs(args, stamp, scen, rn, fc, tl, users,
                                     pubs, st, res, stuck)
        return st
    finally:
        if faults is not None:
            faults.stop.set()
            if faults.thread.is_alive():
                faults.thread.join(JOIN)
        for x in users + pubs:
            x.stop.set()
        for x in users + pubs:
            if x.thread.is_alive():
                x.thread.join(JOIN)
        fc.close()
        if not args.keep:
            shutil.rmtree(rundir, ignore_errors=True)
            for b in fc.nodes:
                shutil.rmtree(b.dir, ignore_errors=True)


def fault_windows(tl):
    """(start, end) of the run's node faults, from the timeline."""
    out = []
    start = None
    for t, kind, _ in tl.events:
        if kind in ("kill", "partition", "stall"):
            start = t
        elif kind in ("ready", "heal") and start is not None:
            out.append((start, t))
            start = None
    if start is not None:
        out.append((start, tl.now()))
    return out


def classify(res, users, tl, victim):
    """Counters of what went with the lost and the duplicated messages:
    roam: the user connected somewhere within 1 s of the ack (its
    session was moving); fault: acknowledged during a node fault (or
    within 1 s after); victim: published on the faulty node; 0x10: the
    ack said no matching subscribers; slost: the user found its session
    gone at some point; for duplicates, 2nodes: the copies came from two
    nodes, dup1: the second copy had DUP set (a resend, same flow)."""
    by_uid = {u.uid: u for u in users}
    wins = fault_windows(tl)
    out = {}
    for what, ids in (("lost", res["lost_ids"]), ("q2dup",
                                                  res["q2dup_ids"])):
        c = collections.Counter()
        for m in ids:
            r = res["recs"][m]
            u = by_uid[r.uid]
            ref = r.t_ack if r.t_ack is not None else r.t_sent
            if any(ref - 1 <= t <= ref + 1 and e.startswith("connecting")
                   for t, e in u.events):
                c["roam"] += 1
            if any(a <= ref <= b + 1 for a, b in wins):
                c["fault"] += 1
            if victim is not None and r.node == victim:
                c["victim"] += 1
            if r.reason == 0x10:
                c["0x10"] += 1
            if u.session_lost:
                c["slost"] += 1
            d = res["where"].get(m, [])
            if what == "q2dup" and len(d) > 1:
                if len({x[2] for x in d}) > 1:
                    c["2nodes"] += 1
                if d[1][5]:
                    c["dup1"] += 1
        out[what] = dict(c)
    return out


def one_line(s):
    return str(s).replace("\n", " | ")


def save_logs(args, stamp, scen, rn, fc, tl, users, pubs, st, res, stuck):
    d = os.path.join(args.logs, stamp, "%s-run-%02d" % (scen, rn))
    os.makedirs(d, exist_ok=True)
    for b, name in zip(fc.nodes, fc.names):
        for src, dst in ((b.log_path, "%s.log" % name),
                         (b.conf_path, "%s.conf" % name)):
            if os.path.exists(src):
                shutil.copy(src, os.path.join(d, dst))
    for name in ("link-proxies.log", "client-proxies.log"):
        src = os.path.join(fc.workdir, name)
        if os.path.exists(src):
            shutil.copy(src, os.path.join(d, name))
    with open(os.path.join(d, "packets.txt"), "w") as f:
        f.write("# run time, client, packet (received by a user; sent "
                "PUBLISH or received ack for a publisher), packet id, dup, "
                "message id, node\n")
        rows = []
        for x in users + pubs:
            name = x.client_id if isinstance(x, User) else x.cid
            rows += [(t, name, what, mid, dup, m, node)
                     for t, what, mid, dup, m, node in list(x.trace)]
        rows.sort(key=lambda r: r[0])
        for r in rows:
            f.write("%.4f %s %s %s %s %s %s\n" % r)
    lines = ["%.3f %s %s\n" % (t, kind, one_line(detail))
             for t, kind, detail in tl.events]
    for x in users + pubs:
        name = x.client_id if isinstance(x, User) else x.cid
        lines += ["%.3f %s %s\n" % (t, name, one_line(text))
                  for t, text in x.events]
    lines.sort(key=lambda l: float(l.split(" ", 1)[0]))
    with open(os.path.join(d, "timeline.txt"), "w") as f:
        f.write("# run time 0 = %s UTC (node logs are in UTC)\n"
                % tl.wall(0))
        f.writelines(lines)
    ids = [u.client_id for u in users]
    loglines = parse_logs(fc, ids) if (res["lost_ids"] or
                                       res["q2dup_ids"]) else []
    extra = log_extra(loglines, tl)
    with open(os.path.join(d, "summary.txt"), "w") as f:
        f.write("scenario %s run %d; run time 0 = %s UTC; nodes: %s\n"
                % (scen, rn, tl.wall(0), ", ".join(
                    "%s client port %d" % (n, p)
                    for n, p in zip(fc.names, fc.ports))))
        for k, v in st.items():
            if k not in ("logdir",):
                f.write("%s: %s\n" % (k, v))
        f.write("\nfaults: %s\n" % "; ".join(
            "%.3f %s %s" % e for e in tl.events
            if e[1] in ("kill", "ready", "partition", "stall", "heal",
                        "latency", "UNEXPECTED-EXIT", "session-lost",
                        "id-reuse")))
        by_node = collections.Counter(res["recs"][m].node
                                      for m in res["lost_ids"])
        by_user = collections.Counter(res["recs"][m].uid
                                      for m in res["lost_ids"])
        f.write("\nlost (%d; %d came after the post-mortem restart): by "
                "publisher's node %s, by user %s; %s\n"
                % (len(res["lost_ids"]), len(stuck), dict(by_node),
                   dict(by_user), st.get("why", {}).get("lost")))
        for m in res["lost_ids"]:
            f.write(describe(m, res, users, pubs, tl, extra) + "\n")
            if m in stuck:
                f.write("  delivered after the post-mortem restart "
                        "(stuck in the running cluster)\n")
        f.write("\nQoS 2 duplicates (%d): %s\n" % (
            len(res["q2dup_ids"]), st.get("why", {}).get("q2dup")))
        for m in res["q2dup_ids"]:
            f.write(describe(m, res, users, pubs, tl, extra) + "\n")
    return d


# --------------------------------------------------------------------------
# report

COLS = [("scenario", "%-15s"), ("run", "%3s"), ("sent", "%6d"),
        ("acked", "%6d"), ("lost", "%5d"), ("q2dup", "%5d"),
        ("q1dup", "%5d"), ("order", "%5d"), ("refused", "%7d"),
        ("noans", "%5d"), ("roams", "%5d"), ("slost", "%5d"),
        ("stuck", "%5d"), ("cto", "%3d"), ("oddity", "%6d"),
        ("msg/s", "%5.0f")]


def row(st):
    vals = []
    for name, fmt in COLS:
        if name == "oddity":
            v = len(st["oddities"])
        elif name == "msg/s":
            v = st["rate"]
        else:
            v = st[name]
        vals.append(fmt % v)
    return " ".join(vals)


def header():
    out = []
    for name, fmt in COLS:
        w = fmt[1:].rstrip("dfs").split(".")[0]
        out.append(("%" + w + "s") % name)
    return " ".join(out)


ODDITY_KINDS = [
    ("QoS 2 flows never released", "subscribers holding QoS 2 flows "
     "that the cluster never released (PUBREC sent, no PUBREL ever, "
     "across reconnects)"),
    ("reused for", "PUBLISHes with a packet id still awaiting PUBREL at "
     "the subscriber (a new message, dropped as a duplicate)"),
    ("drain timeout", "drain timeouts"),
    ("links not all up", "links that did not come back"),
    ("exited by itself", "unexpected exits of a node"),
    ("topology broken", "links that bypassed their proxy (this script's "
     "set-up)"),
    ("this script's fault", "messages counted lost although received "
     "(a bug of this script)"),
]


def summarize(oddities, examples=2):
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


def total(rows, scen):
    tot = collections.OrderedDict(scenario=scen, run="all")
    for k in ("sent", "acked", "lost", "q2dup", "q1dup", "order",
              "refused", "noans", "roams", "slost", "stuck", "cto"):
        tot[k] = sum(r[k] for r in rows)
    tot["oddities"] = [o for r in rows for o in r["oddities"]]
    tot["rate"] = sum(r["rate"] for r in rows) / max(1, len(rows))
    return tot


def main():
    ap = argparse.ArgumentParser(
        description="3-node cluster soak of ternd under faults (see the "
        "top of this file)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    dflt = os.path.join(TOP, "build", "run", "broker", "ternd")
    ap.add_argument("--ternd", default=dflt if os.access(dflt, os.X_OK)
                    else None, help="the ternd binary (an optimised build)")
    ap.add_argument("--runs", type=int, default=5, help="runs per scenario")
    ap.add_argument("--scenario", action="append",
                    help="run only these (repeat, or comma separated): %s"
                    % ", ".join(SCENARIOS))
    ap.add_argument("--seconds", type=float, default=30.0,
                    help="seconds of traffic per run")
    ap.add_argument("--users", type=int, default=40,
                    help="persistent subscribers (half 3.1.1, half 5)")
    ap.add_argument("--publishers", type=int, default=6,
                    help="publishers (home nodes in turn, both versions)")
    ap.add_argument("--rate", type=float, default=500.0,
                    help="messages per second, all publishers together")
    ap.add_argument("--window", type=int, default=32,
                    help="unacknowledged messages per publisher at most")
    ap.add_argument("--size", type=int, default=100, help="payload bytes")
    ap.add_argument("--roam", type=float, default=5.0,
                    help="mean seconds between a user's roams (0: none)")
    ap.add_argument("--latency", type=float, default=30.0,
                    help="roaming-latency: ms each way on every node link")
    ap.add_argument("--fault-secs", type=float, default=10.0,
                    help="partition / stall: how long")
    ap.add_argument("--kill-down", type=float, default=5.0,
                    help="kill: seconds before the node is restarted")
    ap.add_argument("--net-every", type=float, default=0.5,
                    help="weak-clients: mean seconds between faults of a "
                    "user's connection")
    ap.add_argument("--route-grace", type=int, default=60,
                    help="cluster_route_grace of the nodes (s)")
    ap.add_argument("--quiet", type=float, default=3.0,
                    help="drain: seconds without PUBLISH/PUBREL")
    ap.add_argument("--drain", type=float, default=60.0,
                    help="longest wait for the users to drain")
    ap.add_argument("--no-post-mortem", dest="post_mortem",
                    action="store_false",
                    help="no restart of the nodes to look for stuck "
                    "messages when some are lost")
    ap.add_argument("--log-level", default="debug",
                    help="the nodes' log_level")
    ap.add_argument("--logs", default="/tmp/soak-cluster-logs",
                    help="where the logs of failing runs are kept")
    ap.add_argument("--keep-logs", action="store_true",
                    help="keep the logs of every run")
    ap.add_argument("--keep", action="store_true",
                    help="keep the run directories (data dirs)")
    ap.add_argument("--seed", type=int, help="random seed (printed)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 1 run of each scenario, 12 s, faults "
                    "of 5 s")
    a = ap.parse_args()
    if a.quick:
        a.runs, a.seconds, a.fault_secs, a.kill_down = 1, 12.0, 5.0, 3.0
    scens = SCENARIOS
    if a.scenario:
        scens = [s.strip() for x in a.scenario for s in x.split(",")
                 if s.strip()]
        bad = [s for s in scens if s not in SCENARIOS]
        if bad:
            ap.error("unknown scenario %s (have %s)"
                     % (", ".join(bad), ", ".join(SCENARIOS)))
    if not a.ternd or not os.access(a.ternd, os.X_OK):
        ap.error("no ternd binary (give --ternd PATH)")
    if a.users < 1 or a.publishers < 1 or a.runs < 1:
        ap.error("--users, --publishers and --runs must be at least 1")
    os.environ["TERND"] = os.path.abspath(a.ternd)
    seed = a.seed if a.seed is not None else random.randrange(1 << 31)
    rng = random.Random(seed)
    random.seed(seed)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    workroot = tempfile.mkdtemp(prefix="soak-cluster.")
    harness._tmp_root = workroot

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    print("soak-cluster: %s; scenarios %s; %d run(s) x %gs, 3 nodes, %d "
          "users (roam every ~%gs), %d publishers, %g msg/s, faults of "
          "%gs (kill: down %gs), seed %d"
          % (a.ternd, ",".join(scens), a.runs, a.seconds, a.users, a.roam,
             a.publishers, a.rate, a.fault_secs, a.kill_down, seed))
    print(header())
    sys.stdout.flush()
    rows = collections.OrderedDict((s, []) for s in scens)
    status = 0
    try:
        for scen in scens:
            for rn in range(1, a.runs + 1):
                st = one_run(scen, rn, a, rng, stamp, workroot)
                rows[scen].append(st)
                print(row(st))
                sys.stdout.flush()
            print(row(total(rows[scen], scen)))
            sys.stdout.flush()
    except KeyboardInterrupt:
        print("soak-cluster: interrupted")
        status = 1
    except (SetupError, harness.TestFailure, harness.HarnessError) as e:
        print("soak-cluster: set-up error: %s" % e)
        traceback.print_exc()
        status = 2
    finally:
        harness._reap_all()
        if not a.keep:
            shutil.rmtree(workroot, ignore_errors=True)
    allrows = [r for s in rows.values() for r in s]
    if allrows:
        print("totals:")
        print(header())
        for scen, rs in rows.items():
            if rs:
                print(row(total(rs, scen)))
        for r in allrows:
            if r["lost"] or r["q2dup"] or r["oddities"]:
                print("%s run %d (fault on %s):" % (r["scenario"], r["run"],
                                                    r["victim"]))
                if r.get("lost_first_pass") is not None:
                    print("  lost after the first drain: %d, after the "
                          "second: %d" % (r["lost_first_pass"], r["lost"]))
                if r["lost"]:
                    print("  of the %d lost, %d were dropped by the "
                          "subscriber as QoS 2 duplicates (a packet id "
                          "reused while in a flow); %d came after a restart "
                          "of every node (stuck); %d never came"
                          % (r["lost"], r["id_reuse_lost"], r["stuck"],
                             r["lost"] - r["stuck"] - r["id_reuse_lost"]))
                why = r.get("why", {})
                for k in ("lost", "q2dup"):
                    if r[k]:
                        print("  %s: %s" % (k, ", ".join(
                            "%s %d" % x for x in sorted(
                                why.get(k, {}).items())) or "-"))
                for line in summarize(r["oddities"]):
                    print("  " + line)
                if r.get("logdir"):
                    print("  logs: %s" % r["logdir"])
        if any(r["lost"] or r["q2dup"] for r in allrows):
            status = status or 1
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
