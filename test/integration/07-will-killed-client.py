#!/usr/bin/env python3
"""A mosquitto_sub with a will (--will-topic) killed with SIGKILL has
its will published; a Paho client whose process is killed too."""
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
import signal  # noqa: E402
import subprocess  # noqa: E402

PAHO_CHILD = r'''
import sys, time
import paho.mqtt.client as mqtt
port = int(sys.argv[1])
c = mqtt.Client(client_id="paho-will", protocol=mqtt.MQTTv5)
c.will_set("kill/paho", b"paho-died", qos=1)
c.connect("127.0.0.1", port, keepalive=60)
c.loop_start()
c.subscribe("kill/ready-ack", 0)
time.sleep(0.2)
c.publish("kill/ready", b"up", qos=1).wait_for_publish()
time.sleep(60)
'''


def test():
    with Broker() as b:
        s = raw.Client(b.port, version=V311)
        s.connect("kill-watch")
        s.subscribe("kill/#", qos=1)

        for version in (4, 5):
            ms = Sub(b.port, "kill/ready-%d" % version, version=version,
                     client_id="killed-%d" % version, wait_secs=0,
                     extra=["--will-topic", "kill/will-%d" % version,
                            "--will-payload", "died-%d" % version,
                            "--will-qos", "1"])
            ms.wait_ready()
            ms.kill(signal.SIGKILL)
            m = s.recv_publish(timeout=3.0)
            check_eq((m.topic, m.payload),
                     ("kill/will-%d" % version, b"died-%d" % version),
                     "will of the killed mosquitto_sub")

        child = spawn([sys.executable, "-c", PAHO_CHILD, str(b.port)],
                      stdout=subprocess.DEVNULL)
        try:
            m = s.recv_publish(timeout=5.0)
            check_eq(m.topic, "kill/ready", "Paho child is up")
        finally:
            child.kill()
            child.wait(5)
        m = s.recv_publish(timeout=3.0)
        check_eq((m.topic, m.payload, m.qos), ("kill/paho", b"paho-died", 1),
                 "will of the killed Paho client")
        s.disconnect()


main(test)
