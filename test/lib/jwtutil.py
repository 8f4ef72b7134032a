"""JSON Web Tokens for the JWT login tests: HS256 with the standard
library, RS256 and ES256 signed by the openssl command line (keys made in
the test's temp directory)."""

import base64
import hashlib
import hmac
import json
import subprocess

from harness import tmp_path


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signing_input(header, claims):
    return (b64url(json.dumps(header, separators=(",", ":")).encode())
            + "." + b64url(json.dumps(claims, separators=(",", ":"))
                           .encode()))


def hs256(secret, claims, alg="HS256"):
    si = _signing_input({"alg": alg, "typ": "JWT"}, claims)
    sig = hmac.new(secret, si.encode(), hashlib.sha256).digest()
    return si + "." + b64url(sig)


def unsigned(claims):
    return _signing_input({"alg": "none", "typ": "JWT"}, claims) + "."


def _openssl(*args, input=None):
    r = subprocess.run(["openssl"] + list(args), input=input,
                       capture_output=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args),
                                                r.stderr.decode()))
    return r.stdout


def keypair(kind, name, bits=2048, pubexp=None):
    """kind 'rsa' (of bits, public exponent pubexp) or 'ec': (private
    key path, public key path)."""
    priv = tmp_path(name + ".key")
    pub = tmp_path(name + ".pub")
    if kind == "rsa":
        opts = ["-pkeyopt", "rsa_keygen_bits:%d" % bits]
        if pubexp is not None:
            opts += ["-pkeyopt", "rsa_keygen_pubexp:%d" % pubexp]
        _openssl("genpkey", "-algorithm", "RSA", *opts, "-out", priv)
    else:
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-out", priv)
    _openssl("pkey", "-in", priv, "-pubout", "-out", pub)
    return priv, pub


def _der_to_raw(der):
    """ECDSA-Sig-Value (DER) to R || S, 32 bytes each."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7f)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        v = der[i + 2:i + 2 + n].lstrip(b"\0")
        out += v.rjust(32, b"\0")
        i += 2 + n
    return out


def signed(kind, priv, claims):
    alg = "RS256" if kind == "rsa" else "ES256"
    si = _signing_input({"alg": alg, "typ": "JWT"}, claims)
    sig = _openssl("dgst", "-sha256", "-sign", priv, input=si.encode())
    if kind == "ec":
        sig = _der_to_raw(sig)
    return si + "." + b64url(sig)
