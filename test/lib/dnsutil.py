"""A tiny DNS server for tests (cluster_peers_dns): UDP on 127.0.0.1, a
free port, one name whose A records the test sets and changes at run
time. Other names get NXDOMAIN; other types of the name (AAAA) an empty
answer. resolv_conf() writes a resolv.conf that points at it, for
ternd's dns_resolv_conf.
"""

import socket
import struct
import threading

from harness import HOST, tmp_path


class DnsServer:
    def __init__(self, name, addresses=()):
        self.name = name.lower().rstrip(".")
        self.lock = threading.Lock()
        self.addresses = list(addresses)
        self.queries = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def set(self, addresses):
        with self.lock:
            self.addresses = list(addresses)

    def resolv_conf(self):
        path = tmp_path("resolv.conf")
        with open(path, "w") as f:
            f.write("nameserver %s:%d\noptions timeout:1 attempts:2\n"
                    % (HOST, self.port))
        return path

    def _answer(self, q):
        qid, _flags, qd = struct.unpack("!HHH", q[:6])
        if qd != 1:
            return None
        pos, labels = 12, []
        while q[pos] != 0:
            n = q[pos]
            labels.append(q[pos + 1:pos + 1 + n].decode("ascii", "replace"))
            pos += 1 + n
        pos += 1
        qtype, qclass = struct.unpack("!HH", q[pos:pos + 4])
        question = q[12:pos + 4]
        name = ".".join(labels).lower()
        with self.lock:
            addrs = list(self.addresses)
            self.queries += 1
        answers = b""
        rcode = 0
        if name != self.name:
            rcode = 3  # NXDOMAIN
        elif qtype == 1 and qclass == 1:
            for a in addrs:
                answers += struct.pack("!HHHIH", 0xC00C, 1, 1, 0, 4)
                answers += socket.inet_aton(a)
        n = len(addrs) if answers else 0
        head = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, n, 0, 0)
        return head + question + answers

    def _run(self):
        while not self.stopping:
            try:
                q, peer = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                r = self._answer(q)
            except (IndexError, struct.error):
                r = None
            if r is not None:
                self.sock.sendto(r, peer)

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()
        return False
