#!/usr/bin/env python3
"""What a client sends while its CONNECT waits for its password check is
not read into memory: four connections of a user whose first login takes
seconds of PBKDF2 each send a CONNECT and then push PUBLISHes of 1 MiB as
fast as the node takes them. The node stops reading them until the check
is done, so each can push no more than the kernel's socket buffers hold
(a few MiB), and the node's memory does not grow by what they sent;
before this, the node read everything (about 1 GiB in 6 s for four
connections). Then the logins succeed, what was sent is read and
handled, and the node still answers."""
import os
import socket
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from authutil import *  # noqa: E402,F401,F403

SLOW = 3000000     # iterations: about 3.6 s of PBKDF2-SHA512 each
N = 4
PUSH_SECS = 2.5    # pushing, while the first check still runs
PUSH_CAP = 256 << 20   # per connection: far more than socket buffers
BOUND = 48 << 20   # per connection: what the kernel can hold, with margin
CHUNK = raw.publish("flood/t", b"x" * (1 << 20), qos=0, version=V5)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise TestFailure("no VmRSS for pid %d" % pid)


def test():
    tern_only("password checks on a worker thread")
    pw = password_file({"quick": "q"})
    set_password(pw, "slow", "s1owly", iterations=SLOW)
    with Broker(conf=["password_file %s" % pw, "connect_timeout 120",
                      "max_packet_size 2097152"]) as b:
        other = raw.Client(b.port, version=V5)
        other.connect("other", username="quick", password=b"q")
        before = rss_kib(b.proc.pid)
        socks = []
        for i in range(N):
            s = socket.create_connection(("127.0.0.1", b.port), timeout=10)
            s.sendall(raw.connect("slow-%d" % i, version=V5,
                                  username="slow", password=b"s1owly"))
            s.setblocking(False)
            socks.append(s)
        pushed = [0] * N
        offset = [0] * N
        deadline = time.monotonic() + PUSH_SECS
        while time.monotonic() < deadline:
            progress = False
            for i, s in enumerate(socks):
                if pushed[i] >= PUSH_CAP:
                    continue
                try:
                    n = s.send(CHUNK[offset[i]:])
                except BlockingIOError:
                    continue
                pushed[i] += n
                offset[i] = (offset[i] + n) % len(CHUNK)
                progress = True
            if not progress:
                time.sleep(0.01)
        grown = rss_kib(b.proc.pid) - before
        log("pushed before the logins were answered: %s MiB; node RSS "
            "grew %d MiB" % ([p >> 20 for p in pushed], grown >> 10))
        for i in range(N):
            check(pushed[i] <= BOUND,
                  "connection %d waiting for its password check pushed "
                  "%d MiB into the node (at most %d MiB: the socket "
                  "buffers)" % (i, pushed[i] >> 20, BOUND >> 20))
        check(grown <= N * (BOUND >> 10),
              "node memory grew %d MiB while %d connections waited for "
              "their password checks" % (grown >> 10, N))
        # The node is still there for others.
        other.ping(timeout=30.0)
        # The logins go through, and what waited is read: the CONNACK of
        # each, after which its PUBLISHes are handled (QoS 0, nobody
        # subscribed); a PINGREQ after them is answered.
        for i, s in enumerate(socks):
            s.setblocking(True)
            s.settimeout(90.0)
            if offset[i]:
                s.sendall(CHUNK[offset[i]:])   # the packet cut short
            s.sendall(raw.pingreq())
            got = b""
            end = time.monotonic() + 90.0
            while time.monotonic() < end and len(got) < 4:
                d = s.recv(4096)
                if not d:
                    break
                got += d
            check(len(got) >= 4 and got[0] == 0x20 and got[3] == 0,
                  "connection %d: CONNACK success after its check, got %r"
                  % (i, got[:8]))
            while time.monotonic() < end and b"\xd0\x00" not in got[4:]:
                d = s.recv(4096)
                if not d:
                    break
                got += d
            check(b"\xd0\x00" in got[4:],
                  "connection %d: PINGRESP after what it sent while "
                  "waiting" % i)
            s.close()
        other.ping(timeout=30.0)
        other.disconnect()


main(test)
