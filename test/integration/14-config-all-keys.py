#!/usr/bin/env python3
"""A config file using every documented key (with comments and blank
lines) is accepted, and the limits it sets are in force: log_dest file
writes the log there, max_packet_size and max_keepalive appear in a v5
CONNACK."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401


def test():
    tern_only("ternd config keys")
    logfile = tmp_path("ternd-file.log")
    conf = [
        "",
        "# every key",
        "log_dest file %s" % logfile,
        "log_level info",
        "max_packet_size 4096",
        "max_inflight_messages 10",
        "max_queued_messages 100",
        "max_keepalive 30",
        "allow_zero_length_clientid true",
        "connect_timeout 5",
        "set_tcp_nodelay false",
        "   # indented comment",
        "",
    ]
    with Broker(conf=conf, verbose=False) as b:
        c = raw.Client(b.port, version=V5)
        ack = c.connect("allkeys", keepalive=60)
        check_eq(ack.props.get("maximum_packet_size"), 4096,
                 "Maximum Packet Size")
        check_eq(ack.props.get("server_keep_alive"), 30, "Server Keep Alive")
        c.disconnect()
        wait_for(lambda: os.path.exists(logfile) and
                 os.path.getsize(logfile) > 0, 5, "log file written")
    with open(logfile) as f:
        text = f.read()
    check("allkeys" in text, "log file mentions the client")


main(test)
