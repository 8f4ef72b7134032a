"""Helpers for the authentication and ACL tests (40-auth-*.py).

ternctl writes the password files, so the tests exercise the same hash
format an administrator would produce. Stdlib only.
"""

import os

from harness import HarnessError, run, tmp_path

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
