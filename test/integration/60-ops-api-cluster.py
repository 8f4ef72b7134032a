#!/usr/bin/env python3
"""GET /api/v1/cluster in a 3-node cluster: each node names itself and
the two others, links up both ways, with bytes sent and read; a message
forwarded from n1 to a subscriber on n2 shows in n1's "forwarded" and
n2's "received", and the subscription in n1's routes from n2; once n3 is
stopped, n1 and n2 show it down (the other still up). /status names the
node and its cluster listener. A node without a cluster: enabled false,
no peers."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import apiutil as api  # noqa: E402
from cluster import Cluster  # noqa: E402
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402


def peers(port):
    doc = api.get(port, "cluster")
    return {x["name"]: x for x in doc["peers"]}


def test():
    tern_only("the admin API")
    with Broker(conf=api.conf()) as b:
        check_eq(api.get(b.http_port, "cluster"),
                 {"node": None, "enabled": False, "peers": []},
                 "a lone node")
    with Cluster(3, conf=api.conf()) as c:
        names = c.names
        for i, name in enumerate(names):
            doc = api.get(c[i].http_port, "cluster")
            check_eq((doc["node"], doc["enabled"]), (name, True),
                     "%s names itself" % name)
            st = api.get(c[i].http_port, "status")
            check_eq(st["node"], name, "status node")
            check_eq(st["cluster_listener"], "127.0.0.1:%d" % c.cports[i],
                     "status cluster listener")

            def all_up():
                ps = peers(c[i].http_port)
                return set(ps) == set(names) - {name} and all(
                    x["up"] and x["link_in"] and x["sent_bytes"] > 0 and
                    x["received_bytes"] > 0 for x in ps.values())
            wait_for(all_up, 10.0, "%s: both links up to both" % name)

        sub = raw.Client(c[1].port, version=V5)
        sub.connect("ac-sub")
        sub.subscribe("ac/t", qos=1)
        wait_for(lambda: peers(c[0].http_port)["n2"]["routes"] >= 1, 10.0,
                 "n1 has n2's route")
        pub = raw.Client(c[0].port, version=V5)
        pub.connect("ac-pub")
        pub.publish("ac/t", b"x", qos=1)
        check_eq(sub.recv_publish(timeout=5.0).payload, b"x", "forwarded")
        check(peers(c[0].http_port)["n2"]["forwarded"] >= 1,
              "n1 forwarded to n2")
        wait_for(lambda: peers(c[1].http_port)["n1"]["received"] >= 1, 5.0,
                 "n2 received from n1")
        check(peers(c[0].http_port)["n3"]["queued"] >= 0, "queued")
        sub.disconnect()
        pub.disconnect()

        c[2].stop()
        for i in (0, 1):
            other = names[1 - i]
            wait_for(lambda: not peers(c[i].http_port)["n3"]["up"] and
                     peers(c[i].http_port)[other]["up"], 15.0,
                     "%s: n3 down, %s up" % (names[i], other))


main(test)
