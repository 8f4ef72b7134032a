#!/usr/bin/env python3
"""make install DESTDIR=... from the build tree (contrib/include.am).

The layout: ternd in sbin (not bin), the clients in bin, the sample
tern.conf in <sysconfdir>/tern/ and the logrotate snippet in
<sysconfdir>/logrotate.d/, with this build's directories in them, the
man pages, <localstatedir>/lib/tern (0700) and <localstatedir>/log/tern.
The installed ternd, started with a copy of the installed tern.conf whose
data_dir and log file are moved to the test's directory, on a free port
(-p 0), serves: a QoS 1 message goes from mosquitto_pub to mosquitto_sub,
and the log goes to the file. A second make install keeps a tern.conf
that was changed; make uninstall removes the programs and the unchanged
samples, and keeps the changed tern.conf."""
import os
import re
import signal
import stat
import subprocess
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403


def install_dirs(builddir):
    """The installation directories configure chose, from config.status
    (S["sbindir"]="${exec_prefix}/sbin" ...), expanded."""
    with open(os.path.join(builddir, "config.status")) as f:
        text = f.read()
    raw = dict(re.findall(r'^S\["(\w+)"\]="([^"]*)"$', text, re.M))

    def expand(v, depth=0):
        check(depth < 10, "config.status variables loop")
        return re.sub(r"\$\{(\w+)\}",
                      lambda m: expand(raw[m.group(1)], depth + 1), v)
    return {k: expand(raw[k]) for k in (
        "prefix", "bindir", "sbindir", "sysconfdir", "localstatedir",
        "mandir")}


def make(builddir, target, destdir):
    # not the jobserver of the make check that runs this test
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    return run(["make", "-C", builddir, target, "DESTDIR=" + destdir],
               timeout=180, env=env, check_rc=0)


def serve(ternd, conf_text, d):
    """Run ternd with conf_text (data and log moved to d) on a free port;
    a QoS 1 round trip; SIGTERM; exit status 0."""
    os.makedirs(d)
    data = os.path.join(d, "data")
    logp = os.path.join(d, "ternd.log")
    lines = []
    for line in conf_text.splitlines():
        if line.startswith("data_dir "):
            line = "data_dir " + data
        elif line.startswith("log_dest "):
            line = "log_dest file " + logp
        lines.append(line)
    conf = os.path.join(d, "tern.conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    out = os.path.join(d, "ternd.out")
    with open(out, "wb") as outf:
        p = spawn([ternd, "-c", conf, "-p", "0"], stdout=outf, stderr=outf)
    ready = os.path.join(data, "ternd.ready")

    def started():
        if p.poll() is not None:
            raise TestFailure("installed ternd exited with %r: %s"
                              % (p.returncode, open(out).read()))
        return os.path.exists(ready)
    try:
        wait_for(started, 10, "the installed ternd's ready file")
        with open(ready) as f:
            port = int(f.readline().split()[2])
        with Sub(port, "install/t", qos=1, count=1) as s:
            s.wait_ready()
            pub(port, "install/t", "from the installed ternd", qos=1)
            check_eq(s.wait_count(1)[0], ("install/t",
                                          "from the installed ternd", 1, 0),
                     "the message through the installed ternd")
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise TestFailure("installed ternd did not stop within 10s")
        check_eq(rc, 0, "exit status of the installed ternd")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=5)
    with open(logp) as f:
        text = f.read()
    check("ready, data in %s" % data in text,
          "the log file of the copied config: %r" % text[-500:])
    check("AddressSanitizer" not in text and "runtime error:" not in text,
          "sanitizer report in %s" % logp)


def test():
    tern_only("make install of ternd")
    builddir = os.environ.get("TERN_BUILDDIR")
    if not builddir:
        raise HarnessError("TERN_BUILDDIR is not set")
    dirs = install_dirs(builddir)
    log("install dirs: %r" % dirs)
    dest = tmp_path("destdir")
    make(builddir, "install", dest)

    def at(d, *rest):
        return os.path.join(dest + dirs[d], *rest)

    ternd = at("sbindir", "ternd")
    check(os.access(ternd, os.X_OK), "%s installed" % ternd)
    check(not os.path.exists(at("bindir", "ternd")),
          "ternd in bin: it is a daemon, sbin")
    for c in ("tern-pub", "tern-sub", "ternctl"):
        check(os.access(at("bindir", c), os.X_OK), "%s in bin" % c)
    for page in ("man8/ternd.8", "man5/tern.conf.5", "man1/ternctl.1"):
        check(os.path.isfile(at("mandir", page)), "man page %s" % page)
    conf = at("sysconfdir", "tern", "tern.conf")
    check(os.path.isfile(conf), "%s installed" % conf)
    rotate = at("sysconfdir", "logrotate.d", "tern")
    check(os.path.isfile(rotate), "%s installed" % rotate)
    var = at("localstatedir", "lib", "tern")
    check(os.path.isdir(var), "%s made" % var)
    check_eq(stat.S_IMODE(os.stat(var).st_mode), 0o700,
             "mode of the data directory")
    check(os.path.isdir(at("localstatedir", "log", "tern")),
          "the log directory made")

    with open(conf) as f:
        text = f.read()
    keys = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    log("installed tern.conf settings: %r" % keys)
    check("listener 1883 127.0.0.1" in keys, "loopback listener by default")
    check("data_dir %s/lib/tern" % dirs["localstatedir"] in keys,
          "data_dir of this build")
    check("log_dest file %s/log/tern/ternd.log" % dirs["localstatedir"]
          in keys, "log file of this build")
    check(re.search(r"@\w+@", text) is None,
          "an unsubstituted @variable@ in tern.conf")
    with open(rotate) as f:
        check(f.read().find("%s/log/tern/*.log {" % dirs["localstatedir"])
              >= 0, "logrotate snippet names the log directory")
    unit = os.path.join(builddir, "contrib", "tern.service")
    with open(unit) as f:
        check("ExecStart=%s/ternd -c %s/tern/tern.conf\n"
              % (dirs["sbindir"], dirs["sysconfdir"]) in f.read(),
              "ExecStart of %s" % unit)

    serve(ternd, text, tmp_path("run"))

    # a reinstall keeps the administrator's tern.conf
    with open(conf, "a") as f:
        f.write("# changed by the administrator\n")
    make(builddir, "install", dest)
    with open(conf) as f:
        check(f.read().endswith("# changed by the administrator\n"),
              "make install replaced a changed tern.conf")
    make(builddir, "uninstall", dest)
    check(not os.path.exists(ternd), "make uninstall left ternd")
    check(not os.path.exists(rotate),
          "make uninstall left the unchanged logrotate snippet")
    check(os.path.isfile(conf), "make uninstall removed a changed tern.conf")


main(test)
