#!/usr/bin/env python3
"""SCRAM-SHA-256 enhanced authentication (MQTT 5.0 section 4.12, RFC 5802,
RFC 7677) with credentials made by "ternctl passwd --scram": the whole
exchange (CONNECT, AUTH 0x18 both ways, CONNACK with the server signature,
checked here); a wrong password, an unknown user, a user without SCRAM
credentials and a tampered nonce get CONNACK 0x86; a plain password still
works for a SCRAM user; the ACL's %u is the SCRAM user; malformed or
unoffered requests are refused; AUTH outside an exchange is a protocol
error; a client that stops mid-exchange is dropped by connect_timeout.
The client side is implemented here with hashlib and hmac."""
import base64
import hashlib
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V31, V311, V5  # noqa: E402,F401
from authutil import *  # noqa: E402,F401,F403

RC_BAD_AUTH_METHOD = 0x8C
ACL = "pattern read im/u/%u/#\n"


def refused(c, ack, rc, what):
    check_eq(ack.type, raw.CONNACK, "%s: CONNACK" % what)
    check_eq(ack.reason, rc, "%s: CONNACK reason" % what)
    check_eq(c.wait_closed(5.0), [], "%s: closed after the refusal" % what)
    c.close()


def test():
    tern_only("SCRAM-SHA-256 over AUTH")
    pw = password_file({"alice": "s3cret", "bob": "hunter2", "carol": "c"},
                       iterations=None, scram=("alice", "bob"))
    text = open(pw).read()
    line = [l for l in text.splitlines() if l.startswith("alice:")][0]
    check(line.startswith("alice:$scram-sha-256$4096$"),
          "ternctl --scram: the SCRAM form, 4096 iterations: %r" % line)
    check("carol:$pbkdf2-sha512$" in text, "carol keeps the PBKDF2 form")
    # The file's keys are RFC 5802's, from the salt and the password.
    _, it, salt, stored, server = line.split(":", 1)[1].split("$")[1:]
    salted = hashlib.pbkdf2_hmac("sha256", b"s3cret", base64.b64decode(salt),
                                 int(it))
    check_eq(stored, b64(hashlib.sha256(hm(salted, b"Client Key")).digest()),
             "StoredKey in the file")
    check_eq(server, b64(hm(salted, b"Server Key")), "ServerKey in the file")

    acl = acl_file(ACL)
    with Broker(conf=["password_file %s" % pw, "acl_file %s" % acl,
                      "connect_timeout 2"]) as b:
        # Success; the CONNECT's own user name is not what the ACL sees.
        s = Scram(b.port, "alice", "s3cret", "scram-ok")
        p = s.first(username="bob")
        check_eq(p.type, raw.AUTH, "server-first")
        a = attrs(s.server_first)
        check(a["r"].startswith(s.cnonce) and len(a["r"]) > len(s.cnonce),
              "server nonce extends the client's: %r" % a["r"])
        check_eq(a["s"], salt, "the salt is the file's")
        check_eq(a["i"], "4096", "the iteration count is the file's")
        ack = s.final()
        check_eq(ack.reason, 0, "CONNACK success")
        check_eq(ack.props.get("authentication_method"), METHOD,
                 "CONNACK names the method")
        check_eq(ack.props.get("authentication_data"),
                 ("v=" + b64(s.server_sig)).encode(),
                 "CONNACK carries the right server signature")
        sub = s.c.subscribe([("im/u/alice/#", 1), ("im/u/bob/#", 1)], mid=2)
        check_eq(sub.codes, [1, RC_NOT_AUTHORIZED],
                 "ACL %u is the SCRAM user alice")
        # Re-authentication is not offered: DISCONNECT 0x82.
        s.c.send(raw.auth(0x19, {"authentication_method": METHOD}))
        d = s.c.expect(raw.DISCONNECT, timeout=5.0)
        check_eq(d.reason, raw.RC_PROTOCOL_ERROR, "AUTH after CONNACK")
        s.c.close()

        # The other SCRAM user, to see that the %u follows the login.
        s, ack = login(b.port, "bob", "hunter2", "scram-bob")
        check_eq(ack.reason, 0, "bob logs in")
        sub = s.c.subscribe([("im/u/bob/#", 0), ("im/u/alice/#", 0)], mid=3)
        check_eq(sub.codes, [0, RC_NOT_AUTHORIZED], "ACL %u is bob")
        s.c.disconnect()

        s, ack = login(b.port, "alice", "s3cret", "scram-wrong",
                       password="wrong")
        refused(s.c, ack, RC_BAD_USER_OR_PASSWORD, "wrong password")
        b.wait_log("refused: SCRAM-SHA-256 wrong proof for user 'alice'")

        salts = []
        for i in range(2):
            s, ack = login(b.port, "mallory", "x", "scram-unknown-%d" % i)
            a = attrs(s.server_first)
            check(len(base64.b64decode(a["s"])) == 16 and a["i"] == "4096",
                  "unknown user: a plausible server-first %r"
                  % s.server_first)
            salts.append(a["s"])
            refused(s.c, ack, RC_BAD_USER_OR_PASSWORD, "unknown user")
        check_eq(salts[0], salts[1], "an unknown user's salt is stable")
        b.wait_log("refused: SCRAM-SHA-256 unknown user for user 'mallory'")
        s, ack = login(b.port, "carol", "c", "scram-pbkdf2")
        refused(s.c, ack, RC_BAD_USER_OR_PASSWORD,
                "user without SCRAM credentials")
        b.wait_log("refused: SCRAM-SHA-256 no SCRAM credentials for user "
                   "'carol'")

        s = Scram(b.port, "alice", "s3cret", "scram-nonce")
        s.first()
        # a suffix the nonce does not have (it may end with "xy")
        r = attrs(s.server_first)["r"]
        ack = s.final(nonce=r[:-2] + ("yx" if r.endswith("xy") else "xy"))
        refused(s.c, ack, RC_BAD_USER_OR_PASSWORD, "tampered nonce")
        b.wait_log("nonce not this exchange's for user 'alice'")

        # A plain password still works for a SCRAM user (and only the
        # right one).
        for v in (V5, V311):
            c = raw.Client(b.port, version=v)
            c.connect("plain-%d" % v, username="alice", password=b"s3cret")
            c.ping()
            c.disconnect()
        c = raw.Client(b.port, version=V5)
        ack = c.connect("plain-bad", username="alice", password=b"s3cre",
                        rc=None)
        refused(c, ack, RC_BAD_USER_OR_PASSWORD, "wrong plain password")

        # Requests that are not offered, or do not parse.
        s = Scram(b.port, "alice", "s3cret", "cbind")
        refused(s.c, s.first(data=("p=tls-unique,," + s.bare).encode()),
                raw.RC_UNSPECIFIED, "channel binding")
        s = Scram(b.port, "alice", "s3cret", "authzid")
        refused(s.c, s.first(data=("n,a=bob," + s.bare).encode()),
                raw.RC_UNSPECIFIED, "authzid")
        s = Scram(b.port, "alice", "s3cret", "garbage")
        refused(s.c, s.first(data=b"hello"), raw.RC_UNSPECIFIED,
                "malformed client-first")
        c = raw.Client(b.port, version=V5)
        ack = c.connect("other-method", rc=None, properties={
            "authentication_method": "SCRAM-SHA-1"})
        refused(c, ack, RC_BAD_AUTH_METHOD, "unknown method")

        # Out of step: AUTH with another reason, or another packet.
        s = Scram(b.port, "alice", "s3cret", "step")
        s.first()
        s.c.send(raw.auth(0x19, {"authentication_method": METHOD}))
        refused(s.c, s.c.expect(raw.CONNACK, timeout=5.0),
                raw.RC_PROTOCOL_ERROR, "AUTH 0x19 in the exchange")
        s = Scram(b.port, "alice", "s3cret", "step2")
        s.first()
        s.c.send(raw.pingreq())
        check_eq(s.c.wait_closed(5.0), [], "PINGREQ in the exchange closes")
        b.wait_log("packet other than AUTH in an authentication exchange")
        s.c.close()
        # AUTH outside an exchange, as the first packet.
        c = raw.Client(b.port, version=V5)
        c.send(raw.auth(RC_CONTINUE, {"authentication_method": METHOD}))
        check_eq(c.wait_closed(5.0), [], "AUTH first closes")
        c.close()

        # A client that stops after the first message: connect_timeout.
        s = Scram(b.port, "alice", "s3cret", "stalled")
        t0 = time.monotonic()
        check_eq(s.first().type, raw.AUTH, "stalled: server-first")
        left = s.c.wait_closed(6.0)
        el = time.monotonic() - t0
        log("stalled exchange closed after %.2fs" % el)
        check_eq(left, [], "stalled: nothing but the close")
        check(1.0 <= el <= 5.0, "stalled exchange dropped by connect_timeout "
              "(2 s): %.2fs" % el)
        s.c.close()
        b.wait_log("authentication exchange not done in time")

        # Still serving.
        s, ack = login(b.port, "alice", "s3cret", "scram-again")
        check_eq(ack.reason, 0, "a login after all that")
        s.c.disconnect()


main(test)
