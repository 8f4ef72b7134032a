#!/usr/bin/env python3
"""tern-chat, two of them under tmux, read from their screens.

One ternd with a password file and a JWT key, the ACL of docs/IM.md,
presence_topic im/p/%c (presence_debounce 2), message_id_property and
client_id_user_prefix; a plain TCP listener and a WebSocket-over-TLS one.
Each tern-chat runs in its own tmux session on a private tmux socket;
the test types into it (send-keys) and reads its screen (capture-pane),
every wait bounded. Twice:

1. over tcp://, alice and bob with passwords;
2. over wss:// (TLS and WebSocket, the test's CA given with --cafile),
   carol with a password and dave with a JWT (--jwt-file).

Each run: A /watch B shows "B is online"; A /msg B hi -> B's screen
shows "A > hi", A's "#1 [sent]" then "#1 [delivered] B"; B /quit (exit
status 0), A sends "while away" (sent, not delivered); B's tern-chat
started again shows "A > while away" (the offline queue of its
persistent session) and A sees "#2 [delivered] B"; both /join a group,
a group message of A reaches B (and not A itself: No Local); B /quit and
A sees "B is offline (disconnect)" after the debounce. Finally the ACL
vouches for senders: eve's /msg shows on bob's screen as "eve > ...",
and again after the node restarted (bob's tern-chat shows the
DISCONNECT 0x8B and reconnects by itself),
while a raw client of eve's publishing to im/u/bob/alice (as alice) or
a receipt as bob is refused 0x87, and nothing forged reaches bob's
screen; eve cannot take the client id alice (client_id_user_prefix:
tern-chat exits 1 naming 0x87); a wrong password exits 1 naming 0x86.

Needs tmux (build.sh installs it): without it the test fails. The tmux
server and every broker are stopped at the end, on failure too.
"""
import os
import shutil
import subprocess
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
from authutil import acl_file, password_file  # noqa: E402
import jwtutil  # noqa: E402
import mqttraw as raw  # noqa: E402
from mqttraw import V5  # noqa: E402
import tlsutil  # noqa: E402
import wsutil  # noqa: E402

# docs/IM.md, "An ACL for an IM deployment"
ACL = """\
pattern read im/u/%u/#
pattern write im/u/+/%u
pattern write im/u/+/receipts/%u
pattern read im/p/#
pattern read im/g/#
pattern write im/g/+/%u
"""

SECRET = b"0123456789abcdef0123456789abcdef-chat"
TMUX = shutil.which("tmux")
WAIT = 15.0


def chat_path():
    """The built tern-chat; its absence is a failure, not a skip."""
    bd = os.environ.get("TERN_BUILDDIR")
    if not bd:
        raise HarnessError("TERN_BUILDDIR is not set")
    p = os.path.join(bd, "clients", "tern-chat")
    check(os.access(p, os.X_OK), "tern-chat is not built (%s)" % p)
    return p


class Tmux:
    """A private tmux server (-L socket); one session per tern-chat."""

    def __init__(self):
        check(TMUX is not None, "tmux is not installed (build.sh "
              "installs it with the test packages)")
        self.sock = "tern-chat-test-%d" % os.getpid()
        self.env = dict(os.environ, TMUX_TMPDIR=tmp_root())
        self.env.pop("TMUX", None)
        self.started = False

    def tmux(self, *args, check_rc=0):
        r = subprocess.run([TMUX, "-L", self.sock] + list(args),
                           capture_output=True, timeout=10, env=self.env)
        if check_rc is not None and r.returncode != check_rc:
            raise TestFailure("tmux %s: status %d: %s" % (
                " ".join(args), r.returncode,
                r.stderr.decode(errors="replace")))
        return r.stdout.decode(errors="replace")

    def start(self, name, argv):
        """Run argv in a new detached session name (200x50). When the
        program ends the pane stays with a line "[exit N]"."""
        if not self.started:
            # tmux exits with its last session: a session that stays
            # keeps the server up between the programs' sessions
            self.tmux("new-session", "-d", "-s", "keep", "sleep 3600")
            self.started = True
        cmd = " ".join("'%s'" % a.replace("'", "'\\''") for a in argv)
        shell = "LSAN_OPTIONS=suppressions=%s %s; echo \"[exit $?]\"; " \
            "sleep 600" % (self.lsan(), cmd)
        self.tmux("new-session", "-d", "-s", name, "-x", "200", "-y", "50",
                  shell)
        self.started = True

    def lsan(self):
        """LeakSanitizer suppressions for a sanitizer build: Paho 1.3
        leaves OpenSSL blocks behind now and then when a TLS client is
        destroyed (its SSL context or session, eclipse-paho/paho.mqtt.c
        issues 670 and 1663); only frames inside libcrypto and libssl
        are matched, so a leak of tern-chat's own still fails."""
        path = tmp_path("lsan.supp")
        if not os.path.exists(path):
            with open(path, "w") as f:
                f.write("leak:libcrypto.so\nleak:libssl.so\n")
        return path

    def screen(self, name):
        # -J joins wrapped lines, -S - takes the whole history
        return self.tmux("capture-pane", "-p", "-J", "-S", "-", "-t",
                         name)

    def type(self, name, line):
        self.tmux("send-keys", "-t", name, "-l", line)
        self.tmux("send-keys", "-t", name, "Enter")

    def wait(self, name, text, timeout=WAIT, count=1):
        """Wait until text is on name's screen (count times)."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.screen(name)
            if s.count(text) >= count:
                return s
            if time.monotonic() >= deadline:
                raise TestFailure("%r not on the screen of %s within "
                                  "%.0fs; the screen:\n%s" %
                                  (text, name, timeout, s))
            time.sleep(0.1)

    def kill_session(self, name):
        self.tmux("kill-session", "-t", name, check_rc=None)

    def stop(self):
        if self.started:
            self.tmux("kill-server", check_rc=None)
            self.started = False


def no_sanitizer_report(tm, name):
    s = tm.screen(name)
    for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                "runtime error:"):
        check(bad not in s, "sanitizer report on %s's screen:\n%s" %
              (name, s))


def conversation(tm, run, a, b, argv_a, argv_b):
    """The scenario of the docstring between users a and b; run is the
    URI scheme the two connect with."""
    sa, sb = "%s-%s" % (run, a), "%s-%s" % (run, b)
    tm.start(sb, argv_b)
    tm.wait(sb, "* connected to %s://" % run)
    tm.start(sa, argv_a)
    tm.wait(sa, "* connected to %s://" % run)
    tm.type(sa, "/watch %s" % b)
    tm.wait(sa, "%s is online" % b)

    tm.type(sa, "/msg %s hi" % b)
    tm.wait(sb, "%s > hi" % a)
    tm.wait(sa, "#1 [sent]")
    s = tm.wait(sa, "#1 [delivered] %s" % b)
    check(s.index("#1 [sent]") < s.index("#1 [delivered]"),
          "%s: sent before delivered:\n%s" % (run, s))

    # b goes away; its session keeps what arrives meanwhile
    tm.type(sb, "/quit")
    tm.wait(sb, "[exit 0]")
    no_sanitizer_report(tm, sb)
    tm.kill_session(sb)
    tm.type(sa, "/msg %s while away" % b)
    tm.wait(sa, "#2 [sent]")
    time.sleep(0.5)
    check("#2 [delivered]" not in tm.screen(sa),
          "%s: delivered while %s is away" % (run, b))
    tm.start(sb, argv_b)
    s = tm.wait(sb, "%s > while away" % a)
    check("session resumed" in s, "%s: %s's session resumed:\n%s" %
          (run, b, s))
    check("%s > hi" % a not in s, "%s: no old message again:\n%s" %
          (run, s))
    tm.wait(sa, "#2 [delivered] %s" % b)

    # a group; No Local keeps a's own message off a's screen
    tm.type(sa, "/join team")
    tm.type(sb, "/join team")
    tm.wait(sa, "* joined team")      # printed at the SUBACK
    tm.wait(sb, "* joined team")
    tm.type(sa, "/g team hello all")
    tm.wait(sb, "[team] %s > hello all" % a)
    tm.wait(sa, "#3 [sent]")
    check("[team] %s >" % a not in tm.screen(sa),
          "%s: own group message not echoed" % run)

    # offline only after presence_debounce
    tm.type(sb, "/quit")
    t0 = time.monotonic()
    tm.wait(sb, "[exit 0]")
    tm.wait(sa, "%s is offline (disconnect)" % b)
    check(time.monotonic() - t0 > 1.0, "%s: offline before the "
          "debounce" % run)
    no_sanitizer_report(tm, sb)
    tm.type(sa, "/quit")
    tm.wait(sa, "[exit 0]")
    no_sanitizer_report(tm, sa)
    tm.kill_session(sa)
    tm.kill_session(sb)


def test():
    tern_only("tern-chat and the IM keys")
    chat = chat_path()
    tm = Tmux()
    ca = tlsutil.CA()
    crt, key, _ = ca.issue("server", HOST)
    pw = password_file({"alice": "pa", "bob": "pb", "carol": "pc",
                        "eve": "pe"})
    keyf = tmp_path("jwt.key")
    with open(keyf, "wb") as f:
        f.write(SECRET + b"\n")
    tok = tmp_path("dave.jwt")
    with open(tok, "w") as f:
        f.write(jwtutil.hs256(SECRET, {"sub": "dave",
                                       "exp": int(time.time()) + 3600})
                + "\n")
    conf = ["password_file %s" % pw, "jwt_key_file %s" % keyf,
            "acl_file %s" % acl_file(ACL),
            "presence_topic im/p/%c", "presence_debounce 2",
            "message_id_property true", "client_id_user_prefix true"]
    conf += wsutil.listener_conf(tlsutil.listener_conf(crt, key))
    try:
        with Broker(conf=conf) as b:
            wss = wsutil.ws_port(b)

            def tcp(user, pwd):
                return [chat, "-h", HOST, "-p", str(b.port), "-u", user,
                        "-P", pwd, "--ids"]

            def ws(user, *auth):
                return [chat, "-h", HOST, "-p", str(wss), "--tls", "--ws",
                        "--cafile", ca.crt, "-u", user] + list(auth)

            conversation(tm, "tcp", "alice", "bob", tcp("alice", "pa"),
                         tcp("bob", "pb"))
            conversation(tm, "wss", "carol", "dave", ws("carol", "-P",
                                                        "pc"),
                         ws("dave", "--jwt-file", tok))
            b.wait_log("TLS handshake done")
            b.wait_log("WebSocket handshake done")

            # the ACL vouches for the sender: eve writes as herself only
            tm.start("bob", tcp("bob", "pb"))
            tm.wait("bob", "* connected to")
            r = run([chat, "-h", HOST, "-p", str(b.port), "-u", "eve",
                     "-P", "pe"], input="/msg bob from eve\n", timeout=20)
            check_eq(r.rc, 0, "eve's tern-chat: %r" % r)
            tm.wait("bob", "eve > from eve")
            # the node restarts: tern-chat reconnects by itself
            b.restart()
            tm.wait("bob", "0x8B Server shutting down, reconnecting")
            tm.wait("bob", "* reconnected")
            r = run([chat, "-h", HOST, "-p", str(b.port), "-u", "eve",
                     "-P", "pe"], input="/msg bob after the restart\n",
                    timeout=20)
            check_eq(r.rc, 0, "eve's tern-chat again: %r" % r)
            tm.wait("bob", "eve > after the restart")
            eve = raw.Client(b.port, version=V5)
            eve.connect("eve-raw", username="eve", password=b"pe")
            ack = eve.publish("im/u/bob/alice", b"forged", qos=1, mid=7)
            check_eq(ack.reason, 0x87, "eve writing as alice: PUBACK")
            ack = eve.publish("im/u/alice/receipts/bob", b"{}", qos=1,
                              mid=8)
            check_eq(ack.reason, 0x87, "eve forging bob's receipt: PUBACK")
            eve.disconnect()
            r = run([chat, "-h", HOST, "-p", str(b.port), "-u", "eve",
                     "-P", "pe", "-i", "alice"], timeout=20)
            check_eq(r.rc, 1, "eve as client id alice refused: %r" % r)
            check("0x87" in r.err, "refused 0x87: %r" % r)
            r = run([chat, "-h", HOST, "-p", str(b.port), "-u", "bob",
                     "-P", "wrong"], timeout=20)
            check_eq(r.rc, 1, "a wrong password: %r" % r)
            check("0x86" in r.err, "refused 0x86: %r" % r)
            tm.type("bob", "/quit")
            tm.wait("bob", "[exit 0]")
            no_sanitizer_report(tm, "bob")
            check("forged" not in tm.screen("bob"), "nothing forged "
                  "on bob's screen")
    finally:
        tm.stop()


main(test)
