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

    def issue(self, name, cn, server=True, subject=None, node=False,
              expired=False, san=None):
        """A certificate signed by this CA: (crt, key, serial as int).
        Server certificates get 127.0.0.1 as IP SAN. subject replaces
        the default "/CN=<cn>". node: for a cluster node, which is
        server and client (both extended key usages). expired: valid
        for one day in 2020 only. san: the subjectAltName of a server
        certificate instead of IP:127.0.0.1 (e.g. "DNS:localhost")."""
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
            if node:
                f.write("subjectAltName=IP:%s\n"
                        "extendedKeyUsage=serverAuth,clientAuth\n" % HOST)
            elif server:
                f.write("subjectAltName=%s\n"
                        "extendedKeyUsage=serverAuth\n"
                        % (san or "IP:" + HOST))
            else:
                f.write("extendedKeyUsage=clientAuth\n")
        _serial[0] += 1
        serial = _serial[0]
        if expired:
            self._sign_dated(csr, ext, crt, serial, "20200101000000Z",
                             "20200102000000Z")
        else:
            _openssl("x509", "-req", "-in", csr, "-CA", self.crt,
                     "-CAkey", self.key, "-set_serial", str(serial),
                     "-days", "30", "-sha256", "-extfile", ext, "-out",
                     crt)
        return crt, key, serial

    def _sign_dated(self, csr, ext, crt, serial, start, end):
        """Sign with given validity dates: "openssl x509" takes only a
        number of days from now, "openssl ca" takes dates."""
        d = tmp_path("%s-ca-%d" % (self.name, serial))
        os.makedirs(d, exist_ok=True)
        cnf = os.path.join(d, "ca.cnf")
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("%04X\n" % serial)
        with open(cnf, "w") as f:
            f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\n"
                    "new_certs_dir = %s\nserial = %s/serial\n"
                    "default_md = sha256\npolicy = p\n"
                    "[p]\ncommonName = supplied\n" % (d, d, d))
        _openssl("ca", "-batch", "-config", cnf, "-cert", self.crt,
                 "-keyfile", self.key, "-in", csr, "-out", crt,
                 "-startdate", start, "-enddate", end, "-extfile", ext,
                 "-notext")


def listener_conf(crt, key, cafile=None, require=False, extra=()):
    """Config lines that make the listener above them speak TLS."""
    lines = ["certfile %s" % crt, "keyfile %s" % key]
    if cafile:
        lines.append("cafile %s" % cafile)
    if require:
        lines.append("require_certificate true")
    return lines + list(extra)


def cluster_conf(crt, key, cafile):
    """Config lines that make a node's cluster links speak mutual TLS."""
    return ["cluster_certfile %s" % crt, "cluster_keyfile %s" % key,
            "cluster_cafile %s" % cafile]


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
