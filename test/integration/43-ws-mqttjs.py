#!/usr/bin/env python3
"""MQTT.js, the client browsers and React Native apps use, over ws:// and
wss:// with MQTT 5: it subscribes, receives what a TCP client publishes
and publishes answers the TCP client receives. MQTT.js is Debian's
node-mqtt, which build.sh installs with the other packages: the test
fetches nothing (it fails if MQTT.js is missing, skips only without
node)."""
import os
import shutil
import subprocess
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402
import tlsutil  # noqa: E402
import wsutil  # noqa: E402

LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib")


# Where Debian's node-mqtt (installed by build.sh with the other
# packages) puts MQTT.js; TERN_MQTTJS names another node_modules.
MODULE_DIRS = ["/usr/share/nodejs", "/usr/lib/nodejs"]


def find_mqttjs():
    """node and the node_modules directory holding MQTT.js. Nothing is
    fetched here: a test run must not need the npm registry."""
    node = shutil.which("node")
    if node is None:
        raise Skip("node is not installed")
    dirs = ([os.environ["TERN_MQTTJS"]] if os.environ.get("TERN_MQTTJS")
            else []) + MODULE_DIRS
    for d in dirs:
        if os.path.isfile(os.path.join(d, "mqtt", "package.json")):
            return node, d
    raise TestFailure("MQTT.js is not installed (looked in %s): "
                      "./build.sh check installs Debian's node-mqtt"
                      % ", ".join(dirs))


def run_js(node, modules, b, url, cafile=None):
    tcp = raw.Client(b.port, version=V5)
    tcp.connect("tcp-peer")
    tcp.subscribe("js/out", qos=1)
    env = dict(os.environ, NODE_PATH=modules)
    cmd = [node, os.path.join(LIB, "mqttjs_client.js"), url]
    if cafile:
        cmd.append(cafile)
    p = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
              env=env)
    try:
        line = p.stdout.readline().decode().strip()
        check_eq(line, "READY 1", "MQTT.js subscribed over %s" % url)
        for m in ("one", "two", "bye"):
            tcp.publish("js/in", m.encode(), qos=1, mid=7)
            check_eq(p.stdout.readline().decode().strip(), "GOT " + m,
                     "MQTT.js received %r" % m)
            check_eq(tcp.recv_publish().payload, b"echo " + m.encode(),
                     "TCP client received MQTT.js's answer")
        check_eq(p.wait(timeout=10), 0, "MQTT.js exit status")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        tcp.disconnect()


def test():
    tern_only("WebSocket listener keys")
    node, modules = find_mqttjs()
    ca = tlsutil.CA()
    crt, key, _ = ca.issue("server", HOST)
    conf = wsutil.listener_conf() + wsutil.listener_conf(
        tlsutil.listener_conf(crt, key))
    with Broker(conf=conf) as b:
        ws, wss = b.listeners[1][1], b.listeners[2][1]
        run_js(node, modules, b, "ws://%s:%d/mqtt" % (HOST, ws))
        run_js(node, modules, b, "wss://%s:%d/mqtt" % (HOST, wss), ca.crt)
        b.wait_log("(v5, clean 1")


main(test)
