#!/usr/bin/env python3
"""JWT login: a token signed with the node's key (HS256, RS256, ES256) is
the MQTT password; its user name claim becomes the user the ACL sees.
Expired, not-yet-valid, tampered, unsigned, other-algorithm, other-key
and exp-less tokens, and a user name that is not the token's, are refused
with 0x86 (v5) / return code 4 (3.1.1); anonymous clients are refused by
default once jwt_key_file is set."""
import os
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403
import mqttraw as raw  # noqa: E402
from mqttraw import V311, V5  # noqa: E402
from authutil import *  # noqa: E402,F401,F403
import jwtutil  # noqa: E402

SECRET = b"0123456789abcdef0123456789abcdef-hs256"


def refused(port, token, what, username=None):
    for v, rc in ((V5, RC_BAD_USER_OR_PASSWORD),
                  (V311, RC311_BAD_USER_OR_PASSWORD)):
        c = raw.Client(port, version=v)
        kw = {"password": token.encode()}
        if username is not None or v == V311:
            kw["username"] = username or "x"
        ack = c.connect("jwt-bad", rc=None, **kw)
        check_eq(ack.reason, rc, "CONNACK v%d for %s" % (v, what))
        c.close()


def test():
    tern_only("JWT login")
    now = int(time.time())
    ok = {"sub": "alice", "exp": now + 600}
    key = tmp_path("hs.key")
    with open(key, "wb") as f:
        f.write(SECRET + b"\n")
    acl = acl_file("pattern readwrite im/u/%u/#\n")
    with Broker(conf=["jwt_key_file %s" % key, "acl_file %s" % acl]) as b:
        tok = jwtutil.hs256(SECRET, ok)
        # v5 without a user name, 3.1.1 with the token's user name
        c = raw.Client(b.port, version=V5)
        c.connect("jwt-a5", password=tok.encode())
        ack = c.subscribe([("im/u/alice/#", 1), ("im/u/bob/#", 1)])
        check_eq(ack.codes, [1, RC_NOT_AUTHORIZED],
                 "SUBACK: the claim's user reads its own inbox only")
        c.disconnect()
        c = raw.Client(b.port, version=V311)
        c.connect("jwt-a3", username="alice", password=tok.encode())
        c.disconnect()
        r = pub(b.port, "im/u/alice/x", "hi",
                extra=["-u", "alice", "-P", tok])
        check_eq(r.rc, 0, "mosquitto_pub with a token")

        refused(b.port, jwtutil.hs256(SECRET, dict(ok, exp=now - 120)),
                "an expired token")
        refused(b.port, jwtutil.hs256(SECRET, dict(ok, nbf=now + 600)),
                "a token not valid yet")
        refused(b.port, jwtutil.hs256(SECRET, {"sub": "alice"}),
                "a token without exp")
        refused(b.port, jwtutil.hs256(b"another secret of 32 bytes or "
                                      b"more......", ok),
                "a token signed with another secret")
        head, body, sig = tok.split(".")
        forged = jwtutil._signing_input({"alg": "HS256", "typ": "JWT"},
                                        dict(ok, sub="bob"))
        refused(b.port, forged + "." + sig, "a tampered token")
        refused(b.port, jwtutil.unsigned(ok), "an unsigned token (none)")
        refused(b.port, jwtutil.hs256(SECRET, ok, alg="HS512"),
                "a token naming another algorithm")
        refused(b.port, tok, "a user name that is not the token's",
                username="bob")
        c = raw.Client(b.port, version=V5)
        ack = c.connect("anon", rc=None)
        check_eq(ack.reason, RC_NOT_AUTHORIZED,
                 "anonymous refused once jwt_key_file is set")
        c.close()
        check("expired JWT" in b.log(), "the refusal is logged with why")

    for kind, alg in (("rsa", "RS256"), ("ec", "ES256")):
        priv, pubkey = jwtutil.keypair(kind, kind)
        other, _ = jwtutil.keypair(kind, kind + "-other")
        with Broker(conf=["jwt_key_file %s" % pubkey, "jwt_alg %s" % alg,
                          "jwt_username_claim uid"],
                    name="broker-" + kind) as b:
            tok = jwtutil.signed(kind, priv, {"uid": "carol",
                                              "exp": now + 600})
            c = raw.Client(b.port, version=V5)
            c.connect("jwt-" + kind, password=tok.encode())
            c.disconnect()
            refused(b.port, jwtutil.signed(kind, other, {"uid": "carol",
                                                         "exp": now + 600}),
                    "%s signed by another key" % alg)
            refused(b.port, jwtutil.signed(kind, priv, {"sub": "carol",
                                                        "exp": now + 600}),
                    "%s without the configured claim" % alg)
            refused(b.port, jwtutil.hs256(SECRET, {"uid": "carol",
                                                   "exp": now + 600}),
                    "HS256 on an %s node" % alg)


main(test)
