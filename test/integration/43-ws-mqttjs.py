#!/usr/bin/env python3
"""MQTT.js, the client browsers and React Native apps use, over ws:// and
wss:// with MQTT 5: it subscribes, receives what a TCP client publishes
and publishes answers the TCP client receives. The npm package "mqtt"
(v5) is installed by this test into a cache under the build directory;
the test skips only when node or npm is missing."""
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


def install_mqttjs():
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise Skip("node or npm is not installed")
    bd = os.environ.get("TERN_BUILDDIR") or tmp_root()
    prefix = os.path.join(bd, "test", "mqttjs")
    if not os.path.isdir(os.path.join(prefix, "node_modules", "mqtt")):
        os.makedirs(prefix, exist_ok=True)
        try:
            p = subprocess.run([npm, "install", "--prefix", prefix,
                                "--no-audit", "--no-fund", "mqtt@5"],
                               capture_output=True, timeout=300)
        except subprocess.TimeoutExpired:
            raise TestFailure("npm install mqtt@5 timed out")
        if p.returncode != 0:
            raise TestFailure("npm install mqtt@5 failed: %s"
                              % p.stderr.decode(errors="replace")[-2000:])
    return node, os.path.join(prefix, "node_modules")


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
    node, modules = install_mqttjs()
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
