#!/usr/bin/env python3
"""cluster_secret cannot be guessed by asking: a link that has it is
trusted with every client's messages.

- A cluster_secret of 15 bytes stops start-up: FILE:LINE, the key and
  the minimum on stderr, exit status 1, no ready file. 16 bytes start.
- 20 link CONNECTs (user tern-cluster, each with another wrong password)
  from 127.0.0.1 at once: the first is refused 0x86 at once, the
  others wait their turn, one check per delay (1 s, 2 s, ...), and past
  8 waiting they are refused 0x89 unchecked; in the first 2.5 s at most
  3 are answered 0x86 (before: all 20, within milliseconds).
- Meanwhile a right link login from 127.0.0.2 is answered 0x00 while
  127.0.0.1's logins still wait their turn, and a password 127.0.0.1
  already had refused is refused again ahead of them (it teaches
  nothing, so it does not wait or count).
- A right login from 127.0.0.1 waits for its turn, succeeds, and resets
  the address: the next wrong one is logged as the first since the
  right one, with the shortest delay (1000 ms) for the next.
- The log names the address of each refusal, and holds back lines past
  a few a second (the count goes into the next line)."""
import os
import re
import selectors
import socket
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402
from cluster import Cluster  # noqa: E402

SECRET = "0123456789abcdef"  # 16 bytes, the least accepted
FLOOD = 20
WINDOW = 2.5  # s


def link_connect(port, source, password, node):
    """A raw link CONNECT of node from source; the CONNACK is not read."""
    c = raw.Client(port, version=V5, source=source, timeout=10.0)
    c.send(raw.connect("$cluster/" + node, version=V5, clean=False,
                       username="tern-cluster",
                       password=password.encode(),
                       properties={"user_property": [
                           ("tern-node", node), ("tern-proto", "1")]}))
    return c


def answer(c, timeout):
    """(reason of the CONNACK, seconds it took), failing after timeout."""
    t = time.monotonic()
    ack = c.expect(raw.CONNACK, timeout=timeout, what="CONNACK")
    return ack.reason, time.monotonic() - t


def still_waiting(conns):
    """How many of conns have had no answer yet (nothing to read)."""
    sel = selectors.DefaultSelector()
    for c in conns:
        sel.register(c.sock, selectors.EVENT_READ)
    ready = len(sel.select(0))
    sel.close()
    return len(conns) - ready


def start_refused(secret):
    d = tmp_path("secret-%d" % len(secret))
    os.makedirs(d)
    conf = os.path.join(d, "ternd.conf")
    with open(conf, "w") as f:
        f.write("listener 0 127.0.0.1\nnode_name n1\n"
                "cluster_listener 127.0.0.1:%d\ncluster_secret %s\n"
                % (free_port(), secret))
    data = os.path.join(d, "data")
    r = run_ternd(["-c", conf, "-d", data], timeout=10)
    log("cluster_secret of %d bytes -> rc %r, stderr %r"
        % (len(secret), r.rc, r.err.strip()))
    check_eq(r.rc, 1, "exit status with a %d-byte secret" % len(secret))
    check("%s:4: cluster_secret must be at least 16 bytes" % conf in r.err,
          "stderr names the file, line, key and minimum (got %r)" % r.err)
    check(not os.path.exists(os.path.join(data, "ternd.ready")),
          "no ready file with a short secret")


def flood(port):
    """FLOOD wrong link logins from 127.0.0.1 at once; the answers that
    came within WINDOW seconds: {index: reason}. The connections stay
    open (those still waiting hold their places)."""
    conns = [link_connect(port, "127.0.0.1", "wrong-guess-%02d" % i,
                          "n9") for i in range(FLOOD)]
    t0 = time.monotonic()
    sel = selectors.DefaultSelector()
    for i, c in enumerate(conns):
        sel.register(c.sock, selectors.EVENT_READ, i)
    got = {}
    while True:
        left = t0 + WINDOW - time.monotonic()
        if left <= 0:
            break
        for key, _ in sel.select(left):
            i = key.data
            sel.unregister(key.fileobj)
            try:
                got[i] = conns[i].expect(raw.CONNACK, timeout=1.0,
                                         what="CONNACK").reason
            except (raw.Closed, socket.timeout):
                got[i] = None
    sel.close()
    log("answers within %.1f s: %s" % (WINDOW, sorted(got.items())))
    return conns, got


def test():
    tern_only("cluster_secret checks")
    start_refused("0123456789abcde")
    with Cluster(1, secrets={"n1": SECRET}) as cl:
        port = cl.cports[0]
        conns, got = flood(port)
        n86 = sum(1 for r in got.values() if r == 0x86)
        n89 = sum(1 for r in got.values() if r == 0x89)
        check(all(r in (0x86, 0x89) for r in got.values()),
              "every answer is 0x86 or 0x89: %r" % got)
        check(1 <= n86 <= 3, "wrong link logins answered 0x86 within "
              "%.1f s: %d of %d (at most 3 when slowed down)"
              % (WINDOW, n86, FLOOD))
        log("%d answered 0x86, %d 0x89 (too many waiting), %d waiting"
            % (n86, n89, FLOOD - len(got)))

        # The flood's logins still waiting for their turn (1 s, 2 s,
        # 4 s ... apart): what is answered while one of them still waits
        # was not queued behind them. An order, not a delay.
        waiting = [conns[i] for i in range(FLOOD) if i not in got]
        check(len(waiting) > 0, "logins of the flood still waiting")

        # another address is not held back
        ok = link_connect(port, "127.0.0.2", SECRET, "n8")
        rc, took = answer(ok, 30.0)
        log("right login from 127.0.0.2: %#x after %.3f s" % (rc, took))
        check_eq(rc, 0, "right link login from 127.0.0.2")
        check(still_waiting(waiting) > 0, "right login from 127.0.0.2 "
              "answered while 127.0.0.1's logins still wait")
        ok.disconnect()

        # a password refused before is refused at once, not queued
        again = link_connect(port, "127.0.0.1", "wrong-guess-00", "n9")
        rc, took = answer(again, 30.0)
        log("repeated wrong password: %#x after %.3f s" % (rc, took))
        check_eq(rc, 0x86, "a wrong password repeated")
        check(still_waiting(waiting) > 0, "a repeated wrong password is "
              "answered ahead of the logins waiting their turn")
        again.close()

        # a right login from the penalised address waits, then resets it
        for c in conns:
            c.close()
        right = link_connect(port, "127.0.0.1", SECRET, "n9")
        rc, took = answer(right, 8.0)
        log("right login from 127.0.0.1: %#x after %.3f s" % (rc, took))
        check_eq(rc, 0, "right link login from 127.0.0.1")
        right.disconnect()
        # The reset is a count: the wrong login after it is the
        # address's first since the right one, and the delay it sets for
        # the next is the shortest. Without the reset the flood's wrong
        # ones (1 to 3) would count too, and the delay would be 2 s or
        # more. A count, not a time: the login is answered at once
        # either way (the right one had its turn).
        fresh = link_connect(port, "127.0.0.1", "wrong-after-reset", "n9")
        rc, took = answer(fresh, 30.0)
        log("wrong login after the reset: %#x after %.3f s" % (rc, took))
        check_eq(rc, 0x86, "wrong link login after a right one")
        src = "127.0.0.1:%d" % fresh.sock.getsockname()[1]
        line = wait_for(lambda: re.search(
            r"cluster link from %s refused: wrong cluster_secret "
            r"\((\d+) from this address since the last right one; its "
            r"next link login is checked in (\d+) ms\)" % re.escape(src),
            cl[0].log()), 10.0, "the refusal of %s in the log" % src)
        log("its refusal: %s" % line.group(0))
        check_eq(int(line.group(1)), 1, "wrong logins from 127.0.0.1 "
                 "counted since the right one")
        check_eq(int(line.group(2)), 1000, "the delay after the first "
                 "wrong login since the right one (ms)")
        fresh.close()

        text = cl[0].log()
        lines = re.findall(r"cluster link from 127\.0\.0\.1:\d+ refused: "
                           r"[^\n]*", text)
        log("refusals logged for 127.0.0.1: %d" % len(lines))
        check(any("wrong cluster_secret" in s for s in lines),
              "a refusal for a wrong cluster_secret names the address")
        check(len(lines) < FLOOD, "refusals logged: %d, fewer than the %d "
              "logins of the flood" % (len(lines), FLOOD))
        check("not logged" in text, "the refusals not logged are counted")


main(test)
