"""Helpers for the authentication and ACL tests (40-auth-*.py).

ternctl writes the password files, so the tests exercise the same hash
format an administrator would produce. Stdlib and mqttraw only; the
SCRAM-SHA-256 client side (Scram, login) is at the end.
"""

import base64
import hashlib
import hmac
import os

import mqttraw as raw
from harness import HarnessError, check, check_eq, run, tmp_path

# v5 CONNACK / ack reason codes and 3.1.1 return codes of this family
RC_BAD_USER_OR_PASSWORD = 0x86
RC_NOT_AUTHORIZED = 0x87
RC311_BAD_USER_OR_PASSWORD = 4
RC311_NOT_AUTHORIZED = 5
RC311_SUBACK_FAILURE = 0x80

# Fast hashes for tests that only need a valid file; the default count
# is exercised by 40-auth-password.py.
FAST = 1000


def ternctl_path():
    bd = os.environ.get("TERN_BUILDDIR")
    p = os.path.join(bd, "clients", "ternctl") if bd else None
    if not p or not os.access(p, os.X_OK):
        raise HarnessError("ternctl not found (TERN_BUILDDIR=%r)" % bd)
    return p


def ternctl(*args, input=None, check_rc=None):
    """Run ternctl with args (password on stdin when input is given)."""
    return run([ternctl_path()] + list(args), timeout=30, input=input,
               check_rc=check_rc)


def set_password(path, user, password, iterations=FAST, scram=False):
    """Add or change user in the password file at path (scram: as
    SCRAM-SHA-256 credentials, ternctl passwd --scram)."""
    args = ["passwd"] + (["--scram"] if scram else [])
    if iterations is not None:
        args += ["-i", str(iterations)]
    return ternctl(*(args + [path, user]), input=password + "\n",
                   check_rc=0)


def password_file(users, name="passwd", iterations=FAST, scram=()):
    """A new password file with users ({user: password}); its path. The
    users named in scram get SCRAM-SHA-256 credentials."""
    path = tmp_path(name)
    for user, password in users.items():
        set_password(path, user, password, iterations, user in scram)
    return path


def acl_file(text, name="acl"):
    path = tmp_path(name)
    with open(path, "w") as f:
        f.write(text)
    return path


# SCRAM-SHA-256 over MQTT 5 AUTH (RFC 5802, RFC 7677): the client side.

METHOD = "SCRAM-SHA-256"
RC_CONTINUE = 0x18


def b64(b):
    return base64.b64encode(b).decode()


def hm(key, msg):
    return hmac.new(key, msg, hashlib.sha256).digest()


def attrs(msg):
    return dict(a.split("=", 1) for a in msg.split(","))


class Scram:
    """One client-side exchange."""

    def __init__(self, port, user, password, client_id):
        self.user, self.password = user, password
        self.cnonce = b64(os.urandom(18))
        self.bare = "n=%s,r=%s" % (user, self.cnonce)
        self.c = raw.Client(port, version=raw.V5)
        self.client_id = client_id

    def first(self, data=None, username=None):
        """Send the CONNECT with client-first; return the server's next
        packet (AUTH or CONNACK)."""
        if data is None:
            data = ("n,," + self.bare).encode()
        self.c.send(raw.connect(self.client_id, version=raw.V5,
                                username=username, properties={
                                    "authentication_method": METHOD,
                                    "authentication_data": data}))
        p = self.c.recv(timeout=5.0)
        if p.type == raw.AUTH:
            check_eq(p.reason, RC_CONTINUE, "AUTH reason continue")
            check_eq(p.props.get("authentication_method"), METHOD,
                     "AUTH names the method")
            self.server_first = p.props["authentication_data"].decode()
        return p

    def final(self, nonce=None, password=None):
        """Send client-final (nonce/password overridable); return the
        CONNACK."""
        a = attrs(self.server_first)
        salt = base64.b64decode(a["s"])
        it = int(a["i"])
        pw = (password if password is not None else self.password).encode()
        salted = hashlib.pbkdf2_hmac("sha256", pw, salt, it)
        client_key = hm(salted, b"Client Key")
        stored_key = hashlib.sha256(client_key).digest()
        without = "c=biws,r=%s" % (nonce if nonce is not None else a["r"])
        self.auth_message = ",".join((self.bare, self.server_first,
                                      without)).encode()
        sig = hm(stored_key, self.auth_message)
        proof = bytes(x ^ y for x, y in zip(client_key, sig))
        self.server_sig = hm(hm(salted, b"Server Key"), self.auth_message)
        self.c.send(raw.auth(RC_CONTINUE, {
            "authentication_method": METHOD,
            "authentication_data": (without + ",p=" + b64(proof)).encode()}))
        return self.c.expect(raw.CONNACK, timeout=5.0)


def login(port, user, pw, client_id, **kw):
    s = Scram(port, user, pw, client_id)
    p = s.first()
    check_eq(p.type, raw.AUTH, "server-first for %s" % client_id)
    return s, s.final(**kw)
