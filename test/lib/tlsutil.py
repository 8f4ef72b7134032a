"""Helpers for the TLS integration tests (41-tls-*): certificates made
with the openssl command into the test's temp dir, the ternd config lines
of a TLS listener, Python ssl contexts, and the serial number of the
certificate a listener presents (via openssl s_client).

Keys are EC P-256, which keeps generation fast. Every certificate gets a
serial number of its own, so a test can tell which one a listener serves.
"""

import os
import shutil
import ssl
import subprocess

import harness
from harness import HOST, HarnessError, Skip, tmp_path

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

_serial = [0x1000]


def _openssl(*args, stdin=None):
    try:
        p = subprocess.run([OPENSSL] + list(args), input=stdin,
                           capture_output=True, timeout=30)
    except FileNotFoundError:
        raise Skip("openssl is not installed")
    if p.returncode != 0:
        raise HarnessError("openssl %s failed: %s"
                           % (" ".join(args), p.stderr.decode(
                               errors="replace")))
    return p.stdout.decode(errors="replace")


def _key(path):
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout",
             "-out", path)
    os.chmod(path, 0o600)


class CA:
    """A certificate authority in dir/<name>.{crt,key}."""

    def __init__(self, name="ca", cn="tern test CA"):
        self.name = name
        self.key = tmp_path(name + ".key")
        self.crt = tmp_path(name + ".crt")
        _key(self.key)
        _openssl("req", "-x509", "-new", "-key", self.key, "-sha256",
                 "-days", "30", "-subj", "/CN=%s" % cn, "-out", self.crt)

    def issue(self, name, cn, server=True, subject=None):
        """A certificate signed by this CA: (crt, key, serial as int).
        Server certificates get 127.0.0.1 as IP SAN. subject replaces
        the default "/CN=<cn>"."""
        key = tmp_path(name + ".key")
        csr = tmp_path(name + ".csr")
        crt = tmp_path(name + ".crt")
        ext = tmp_path(name + ".ext")
        _key(key)
        _openssl("req", "-new", "-key", key, "-subj",
                 subject or "/CN=%s" % cn, "-out", csr)
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature\n")
            if server:
                f.write("subjectAltName=IP:%s\n"
                        "extendedKeyUsage=serverAuth\n" % HOST)
            else:
                f.write("extendedKeyUsage=clientAuth\n")
        _serial[0] += 1
        serial = _serial[0]
        _openssl("x509", "-req", "-in", csr, "-CA", self.crt, "-CAkey",
                 self.key, "-set_serial", str(serial), "-days", "30",
                 "-sha256", "-extfile", ext, "-out", crt)
        return crt, key, serial


def listener_conf(crt, key, cafile=None, require=False, extra=()):
    """Config lines that make the listener above them speak TLS."""
    lines = ["certfile %s" % crt, "keyfile %s" % key]
    if cafile:
        lines.append("cafile %s" % cafile)
    if require:
        lines.append("require_certificate true")
    return lines + list(extra)


def client_context(cafile, cert=None, key=None):
    """A Python client context that trusts cafile (and presents cert)."""
    ctx = ssl.create_default_context(cafile=cafile)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def served_serial(port, cafile):
    """The serial number (int) of the certificate the listener on port
    presents, read with openssl s_client."""
    try:
        p = subprocess.run([OPENSSL, "s_client", "-connect",
                            "%s:%d" % (HOST, port), "-CAfile", cafile,
                            "-verify_return_error"],
                           input=b"", capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:
        raise harness.TestFailure("openssl s_client timed out")
    out = p.stdout.decode(errors="replace")
    begin = out.find("-----BEGIN CERTIFICATE-----")
    end = out.find("-----END CERTIFICATE-----")
    if begin < 0 or end < 0:
        raise harness.TestFailure("openssl s_client got no certificate "
                                  "(status %d): %s %s"
                                  % (p.returncode, out[-500:],
                                     p.stderr.decode(errors="replace")))
    pem = out[begin:end + len("-----END CERTIFICATE-----")] + "\n"
    text = _openssl("x509", "-noout", "-serial", stdin=pem.encode())
    return int(text.strip().split("=", 1)[1], 16)


def tls_args(cafile, cert=None, key=None):
    """mosquitto_pub/mosquitto_sub options for TLS."""
    args = ["--cafile", cafile]
    if cert:
        args += ["--cert", cert, "--key", key]
    return args
