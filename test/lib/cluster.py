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
import time

from harness import (Broker, HOST, TestFailure, free_port, log, tern_only,
                     wait_for)

SECRET = "s3cret-for-tests"


class Cluster:
    def __init__(self, n=3, conf=(), node_conf=None, start=True,
                 grace=60, sync_timeout=2000):
        tern_only("a tern cluster")
        self.names = ["n%d" % (i + 1) for i in range(n)]
        self.cports = [free_port() for _ in range(n)]
        self.peers = " ".join("%s:%d" % (HOST, p) for p in self.cports)
        self.nodes = []
        for i, name in enumerate(self.names):
            lines = ["node_name %s" % name,
                     "cluster_listener %s:%d" % (HOST, self.cports[i]),
                     "cluster_peers %s" % self.peers,
                     "cluster_secret %s" % SECRET,
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
        for b in self.nodes:
            b.start()
        self.wait_links()
        return self

    def links_up(self, i):
        """Names of the nodes node i's outbound links are up to now."""
        text = self.nodes[i].log()
        state = {}
        for m in re.finditer(r"cluster link to (\S+) \(\S+\) (up|down)",
                             text):
            state[m.group(1)] = m.group(2)
        return {k for k, v in state.items() if v == "up"}

    def wait_links(self, timeout=15.0, nodes=None):
        idx = range(len(self.nodes)) if nodes is None else nodes

        def all_up():
            for i in idx:
                if not self.nodes[i].alive():
                    continue
                want = {self.names[j] for j in range(len(self.nodes))
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
