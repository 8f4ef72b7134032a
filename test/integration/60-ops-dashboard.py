#!/usr/bin/env python3
"""The dashboard (GET /) in a real browser: Debian's headless Chromium,
driven by chromedriver over the W3C WebDriver protocol (plain HTTP from
here). On n1 of a 2-node cluster with an HTTP listener: the page asks
for the token; a wrong one is refused (the form again, with an error);
with the right one it shows the counters, the cluster view (n2, link
up) and, in the clients table, a client connected by the test; its Kick
button disconnects it (the client gets DISCONNECT 0x98, then the socket
closes) and its row goes. Nothing the page loads is blocked by its
Content-Security-Policy (no console error). Fails, not skips, when
chromium or chromedriver is missing (build.sh installs them)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import apiutil as api  # noqa: E402
from cluster import Cluster  # noqa: E402
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
CLIENT = "dash-client"


class WebDriver:
    """A chromedriver process and one browser session on it."""

    def __init__(self):
        driver = shutil.which("chromedriver")
        browser = shutil.which("chromium")
        if driver is None or browser is None:
            raise TestFailure("chromium and chromedriver are needed "
                              "(apt-get install chromium chromium-driver; "
                              "build.sh installs them)")
        self.port = free_port()
        self.log = open(tmp_path("chromedriver.log"), "wb")
        self.proc = spawn([driver, "--port=%d" % self.port],
                          stdout=self.log, stderr=subprocess.STDOUT)
        self.sid = None
        wait_for(lambda: self._ready(), 30.0, "chromedriver ready")
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": browser,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--no-first-run",
                         "--user-data-dir=" + tmp_path("chromium")]}}}}
        self.sid = self._call("POST", "/session", caps,
                              timeout=90.0)["sessionId"]

    def _ready(self):
        try:
            return self._call("GET", "/status", timeout=2.0)["ready"]
        except (OSError, urllib.error.URLError):
            return False

    def _call(self, method, path, body=None, timeout=30.0):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            "http://127.0.0.1:%d%s" % (self.port, path), data=data,
            method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            raise TestFailure("WebDriver %s %s: %d %s" % (
                method, path, e.code, e.read()[:500]))

    def s(self, method, path, body=None, timeout=30.0):
        return self._call(method, "/session/%s%s" % (self.sid, path), body,
                          timeout)

    def go(self, url):
        self.s("POST", "/url", {"url": url}, timeout=60.0)

    def find(self, css):
        return self.s("POST", "/element", {"using": "css selector",
                                           "value": css})[ELEMENT]

    def type(self, css, text):
        self.s("POST", "/element/%s/value" % self.find(css), {"text": text})

    def click(self, css):
        self.s("POST", "/element/%s/click" % self.find(css), {})

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script,
                                                "args": list(args)})

    def console(self):
        try:
            return self.s("POST", "/se/log", {"type": "browser"})
        except TestFailure:
            return []

    def quit(self):
        try:
            if self.sid is not None:
                self._call("DELETE", "/session/%s" % self.sid, timeout=30.0)
        finally:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.kill(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=5)
            self.log.close()


VISIBLE = "return !document.getElementById(arguments[0]).hidden;"
ROWS = ("return Array.from(document.querySelectorAll('#clients tbody tr'))"
        ".map(r => r.dataset.clientId);")
PEERS = ("return Array.from(document.querySelectorAll('#cluster tbody tr'))"
         ".map(r => [r.dataset.node, r.cells[1].textContent]);")
COUNT = "return document.getElementById('c-connections').textContent;"


def test():
    tern_only("the dashboard")
    with Cluster(2, conf=api.conf()) as c:
        url = "http://127.0.0.1:%d/" % c[0].http_port
        wd = WebDriver()
        try:
            wd.go(url)
            wait_for(lambda: wd.js(VISIBLE, "login"), 10.0,
                     "the page asks for the token")
            check(not wd.js(VISIBLE, "main"), "no data before the token")

            wd.type("#token", "not-the-token")
            wd.click("#login-submit")
            wait_for(lambda: wd.js("return document.getElementById("
                                   "'login-error').textContent;"), 10.0,
                     "the wrong token refused")
            check(wd.js(VISIBLE, "login"), "the form again")

            cl = raw.Client(c[0].port, version=V5)
            cl.connect(CLIENT)
            wd.type("#token", api.TOKEN)
            wd.click("#login-submit")
            wait_for(lambda: wd.js(VISIBLE, "main"), 10.0, "signed in")
            wait_for(lambda: CLIENT in wd.js(ROWS), 10.0,
                     "the client in the table")
            wait_for(lambda: wd.js(COUNT) == "1", 10.0,
                     "1 connection in the counters")
            check_eq(wd.js("return sessionStorage.getItem('tern-token');"),
                     api.TOKEN, "the token kept in sessionStorage")
            wait_for(lambda: wd.js(PEERS) == [["n2", "up"]], 10.0,
                     "the cluster view: n2 up")

            wd.click('button.kick[data-client-id="%s"]' % CLIENT)
            got = cl.wait_closed(10.0)
            check_eq([(p.type, p.reason) for p in got],
                     [(raw.DISCONNECT, 0x98)],
                     "the kicked client got DISCONNECT 0x98")
            cl.close()
            wait_for(lambda: CLIENT not in wd.js(ROWS), 10.0,
                     "the client's row gone")
            wait_for(lambda: wd.js(COUNT) == "0", 10.0,
                     "0 connections in the counters")
            errors = [e for e in wd.console() if e.get("level") == "SEVERE"
                      and "401" not in e.get("message", "")]
            check_eq(errors, [], "no error in the browser's console")
        finally:
            wd.quit()


main(test)
