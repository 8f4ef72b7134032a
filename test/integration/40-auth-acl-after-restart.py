#!/usr/bin/env python3
"""A session's user is stored with it, so its ACL holds for its queue
after a restart too: alice (subscribe im/#, read only her inbox) is
offline when the node restarts (graceful and kill -9 in turn); then
another user publishes 6 messages alice may not read, and 3 to her
inbox. Her queue (max_queued_messages 3) takes only hers: she gets the
3, in order. Before, a session loaded from the store had no user, its
queue took everything, the 6 foreign messages filled it and pushed her
own out (they were only refused at delivery)."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from authutil import *  # noqa: E402,F401,F403

ACL = """pattern subscribe im/#
pattern read im/u/%u/#
user mallory
topic write im/#
"""


def test():
    tern_only("acl_file and a durable store")
    pw = password_file({"alice": "a", "mallory": "m"})
    acl = acl_file(ACL)
    conf = ["password_file %s" % pw, "acl_file %s" % acl,
            "max_queued_messages 3"]
    with Broker(conf=conf) as b:
        for graceful in (True, False):
            how = "graceful restart" if graceful else "kill -9"
            a = raw.Client(b.port, version=V5)
            a.connect("alice-phone", clean=False, username="alice",
                      password=b"a",
                      properties={"session_expiry_interval": 3600})
            a.subscribe("im/#", qos=1)
            a.disconnect()
            a.close()
            b.restart(graceful=graceful)
            m = raw.Client(b.port, version=V5)
            m.connect("mallory", username="mallory", password=b"m")
            for i in range(6):
                m.publish("im/u/mallory/%d" % i, b"not for alice", qos=1,
                          mid=1 + i)
            want = [b"%s %d" % (how.encode(), i) for i in range(3)]
            for i, p in enumerate(want):
                m.publish("im/u/alice/inbox", p, qos=1, mid=10 + i)
            m.disconnect()
            m.close()
            a = raw.Client(b.port, version=V5)
            ack = a.connect("alice-phone", clean=False, username="alice",
                            password=b"a",
                            properties={"session_expiry_interval": 3600})
            check_eq(ack.session_present, 1, "%s: session present" % how)
            got = []
            for _ in want:
                got.append(a.recv_publish(timeout=5.0).payload)
            check_eq(got, want, "%s: alice's queue kept her messages" % how)
            a.expect_none(0.3)
            a.disconnect()
            a.close()


main(test)
