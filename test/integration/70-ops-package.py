#!/usr/bin/env python3
"""The Debian package of debian/: built, installed, run and purged.

A clean copy of the source tree (its git-tracked files, or the tree less
its build directories) is built with dpkg-buildpackage -us -uc -b
(DEB_BUILD_OPTIONS nocheck parallel=2: about 35 s on two idle cores).
dpkg -i then installs it: the system user tern exists, /var/lib/tern
(0700) and /var/log/tern are its, /etc/tern/tern.conf is a conffile,
and tern.service has the keys the service relies on (Type=notify, the
user, NoNewPrivileges, ProtectSystem=strict with ReadWritePaths covering
the data_dir and the log file of the installed tern.conf, ExecReload by
SIGHUP, a high LimitNOFILE); systemd-analyze verify, where it exists,
finds nothing to say. /usr/sbin/ternd, run as tern with the installed
tern.conf and -p 0 (a free port), serves a QoS 1 message from
mosquitto_pub to mosquitto_sub and logs to /var/log/tern/ternd.log.
dpkg -P then leaves no package, configuration, unit, data or log.

The test installs a package: it runs as root (as CI does) and fails
otherwise. It refuses to run where a tern package or /var/lib/tern is
there already, as the purge would take them. The package is purged at
the end whatever happened, also when the test is stopped by SIGTERM (the
make check timeout)."""
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from harness import *  # noqa: E402,F401,F403

UNIT = "/lib/systemd/system/tern.service"
CONF = "/etc/tern/tern.conf"
DATA = "/var/lib/tern"
LOGDIR = "/var/log/tern"
TERND = "/usr/sbin/ternd"
BUILD_TIMEOUT = 240


def clean_env():
    """The environment for dpkg and make: not the jobserver of the make
    check that runs this test, no sanitizer settings."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
           and not k.endswith("SAN_OPTIONS")}
    env["DEBIAN_FRONTEND"] = "noninteractive"
    env.pop("NOTIFY_SOCKET", None)
    return env


def copy_tree(src, dst):
    """The files of the source tree, without what a build made in it."""
    r = subprocess.run(["git", "-C", src, "rev-parse", "--show-toplevel"],
                       capture_output=True, text=True)
    if r.returncode == 0 and os.path.realpath(r.stdout.strip()) == \
            os.path.realpath(src):
        files = subprocess.run(["git", "-C", src, "ls-files", "-z"],
                               capture_output=True, check=True).stdout
        n = 0
        for name in files.decode().split("\0"):
            path = os.path.join(src, name)
            # a tracked file deleted in the work tree is not copied
            if not name or not os.path.lexists(path):
                continue
            os.makedirs(os.path.dirname(os.path.join(dst, name)),
                        exist_ok=True)
            shutil.copy2(path, os.path.join(dst, name), follow_symlinks=False)
            n += 1
        log("copied %d git-tracked files of %s" % (n, src))
        return

    # a tree from make dist: leave out build trees (distcheck's _build)
    def ignore(d, names):
        out = {"autom4te.cache", ".git"}
        for n in names:
            if os.path.exists(os.path.join(d, n, "config.status")):
                out.add(n)
        return out & set(names)
    shutil.copytree(src, dst, symlinks=True, ignore=ignore)
    # make distcheck's source tree is read-only, and so its copy
    for d, dirs, files in os.walk(dst):
        for n in [d] + [os.path.join(d, f) for f in files]:
            if not os.path.islink(n):
                os.chmod(n, os.stat(n).st_mode | stat.S_IWUSR)
    log("copied %s (no git work tree)" % src)


def unit_keys(path):
    """{key: [values]} of a unit file (all sections)."""
    keys = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;[" or "=" not in line:
                continue
            k, v = line.split("=", 1)
            keys.setdefault(k.strip(), []).append(v.strip())
    return keys


def conf_value(text, key):
    for line in text.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[0] == key:
            return parts[1]
    return None


def dpkg_status():
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "tern"],
                       capture_output=True, text=True)
    st = r.stdout.strip() if r.returncode == 0 else ""
    return "" if st.endswith("not-installed") else st


def build(src):
    top = tmp_path("src")
    tree = os.path.join(top, "tern")
    copy_tree(src, tree)
    check(os.path.isfile(os.path.join(tree, "debian", "control")),
          "no debian/control in the source tree %s" % src)
    with open(os.path.join(tree, "debian", "changelog")) as f:
        m = re.match(r"tern \(([^)]+)\)", f.readline())
    check(m is not None, "debian/changelog does not start with tern (...)")
    version = m.group(1)
    check_eq(version, ternd_version(),
             "debian/changelog's version against configure.ac's")
    env = clean_env()
    env["DEB_BUILD_OPTIONS"] = "nocheck parallel=2 noautodbgsym"
    blog = os.path.join(top, "build.log")
    t0 = time.monotonic()
    with open(blog, "wb") as out:
        p = spawn(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=tree,
                  env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            rc = p.wait(timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            rc = "killed after %ds" % BUILD_TIMEOUT
    log("dpkg-buildpackage: %s in %.0fs" % (rc, time.monotonic() - t0))
    if rc != 0:
        with open(blog, "rb") as f:
            tail = f.read()[-6000:].decode(errors="replace")
        raise TestFailure("dpkg-buildpackage -us -uc -b: %s; its log ends "
                          "with:\n%s" % (rc, tail))
    arch = run(["dpkg", "--print-architecture"], check_rc=0).out.strip()
    deb = os.path.join(top, "tern_%s_%s.deb" % (version, arch))
    check(os.path.isfile(deb), "%s built" % deb)
    return deb


def check_installed():
    check(dpkg_status() == "install ok installed",
          "dpkg says %r" % dpkg_status())
    try:
        pw = pwd.getpwnam("tern")
    except KeyError:
        raise TestFailure("no user tern after dpkg -i")
    check(pw.pw_uid < 1000, "tern is a system user (uid %d)" % pw.pw_uid)
    check(pw.pw_shell.endswith("nologin") or pw.pw_shell == "/bin/false",
          "tern has no login shell (%s)" % pw.pw_shell)
    st = os.stat(DATA)
    check_eq((st.st_uid, st.st_gid), (pw.pw_uid, pw.pw_gid),
             "owner of %s" % DATA)
    check_eq(stat.S_IMODE(st.st_mode), 0o700, "mode of %s" % DATA)
    check_eq(os.stat(LOGDIR).st_uid, pw.pw_uid, "owner of %s" % LOGDIR)
    for path in (TERND, CONF, UNIT, "/etc/logrotate.d/tern",
                 "/usr/share/man/man8/ternd.8.gz",
                 "/usr/share/man/man5/tern.conf.5.gz", "/usr/bin/tern-pub"):
        check(os.path.exists(path), "%s installed" % path)
    conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "tern"],
                    check_rc=0).out
    check(CONF in conffiles, "%s is a conffile: %r" % (CONF, conffiles))
    return pw


def check_unit():
    with open(CONF) as f:
        conf = f.read()
    keys = unit_keys(UNIT)
    log("unit keys: %r" % keys)
    want = {"Type": "notify", "User": "tern", "Group": "tern",
            "NoNewPrivileges": "yes", "ProtectSystem": "strict",
            "ProtectHome": "yes", "PrivateTmp": "yes",
            "Restart": "on-failure",
            "ExecStart": "%s -c %s" % (TERND, CONF),
            "ExecReload": "/bin/kill -HUP $MAINPID",
            "WantedBy": "multi-user.target"}
    for k, v in want.items():
        check_eq(keys.get(k, [None])[-1], v, "%s= in %s" % (k, UNIT))
    nofile = keys.get("LimitNOFILE", ["0"])[-1]
    check(nofile == "infinity" or int(nofile) >= 65536,
          "LimitNOFILE=%s is high" % nofile)
    rw = " ".join(keys.get("ReadWritePaths", [])).split()
    rw = [p.lstrip("-") for p in rw]
    data_dir = conf_value(conf, "data_dir")
    check_eq(data_dir, DATA, "data_dir of the installed tern.conf")
    dest = conf_value(conf, "log_dest") or "stderr"
    writes = [data_dir]
    if dest.startswith("file "):
        writes.append(os.path.dirname(dest.split(None, 1)[1]))
    for w in writes:
        check(any(w == p or w.startswith(p.rstrip("/") + "/") for p in rw),
              "%s (tern.conf) is not in ReadWritePaths=%s" % (w, rw))
    analyze = shutil.which("systemd-analyze")
    if analyze:
        r = run([analyze, "verify", UNIT], timeout=60, env=clean_env())
        said = [ln for ln in (r.out + r.err).splitlines()
                if "tern.service" in ln]
        check(r.rc == 0 and not said, "systemd-analyze verify %s: %r"
              % (UNIT, r))
        log("systemd-analyze verify: nothing to say")
    else:
        log("no systemd-analyze: the unit's keys were checked by hand")
    if shutil.which("logrotate"):
        r = run(["logrotate", "-d", "/etc/logrotate.d/tern"], timeout=30)
        check(r.rc == 0 and "error" not in (r.out + r.err).lower(),
              "logrotate -d /etc/logrotate.d/tern: %r" % r)


def serve(pw):
    """The installed ternd as tern with the installed tern.conf on a free
    port: a QoS 1 round trip, then SIGTERM."""
    ready = os.path.join(DATA, "ternd.ready")
    out = tmp_path("ternd.out")
    with open(out, "wb") as outf:
        p = spawn(["setpriv", "--reuid=tern", "--regid=tern",
                   "--init-groups", "--", TERND, "-c", CONF, "-p", "0"],
                  stdout=outf, stderr=subprocess.STDOUT, env=clean_env(),
                  cwd="/")

    def started():
        if p.poll() is not None:
            with open(out) as f:
                raise TestFailure("ternd as tern exited with %r: %s"
                                  % (p.returncode, f.read()))
        return os.path.exists(ready)
    try:
        wait_for(started, 10, "%s" % ready)
        with open("/proc/%d/status" % p.pid) as f:
            uid = re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1)
        check_eq(int(uid), pw.pw_uid, "uid of the running ternd")
        with open(ready) as f:
            port = int(f.readline().split()[2])
        with Sub(port, "pkg/t", qos=1, count=1) as s:
            s.wait_ready()
            pub(port, "pkg/t", "from the package", qos=1)
            check_eq(s.wait_count(1)[0], ("pkg/t", "from the package", 1, 0),
                     "the message through the packaged ternd")
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise TestFailure("the packaged ternd did not stop within 10s")
        check_eq(rc, 0, "exit status of the packaged ternd")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=5)
    check_eq(os.stat(os.path.join(DATA, "tern.db")).st_uid, pw.pw_uid,
             "owner of the store")
    with open(os.path.join(LOGDIR, "ternd.log")) as f:
        text = f.read()
    check("ready, data in %s" % DATA in text,
          "%s/ternd.log: %r" % (LOGDIR, text[-500:]))


def purge():
    r = run(["dpkg", "-P", "tern"], timeout=120, env=clean_env())
    log("dpkg -P tern: %d" % r.rc)
    return r


def test():
    tern_only("the Debian package")
    if os.geteuid() != 0:
        raise TestFailure("this test installs and purges a .deb: run it "
                          "as root (CI does)")
    for tool in ("dpkg-buildpackage", "dh", "setpriv"):
        if not shutil.which(tool):
            raise TestFailure("%s not found: apt-get install build-essential "
                              "dpkg-dev debhelper (./build.sh does)" % tool)
    if dpkg_status():
        raise TestFailure("a tern package is on this machine (%s): the test "
                          "would replace and purge it; dpkg -P tern first"
                          % dpkg_status())
    if os.path.exists(DATA):
        raise TestFailure("%s exists: purging the test's package would "
                          "delete it" % DATA)
    src = os.environ.get("TERN_SRCDIR")
    if not src:
        raise HarnessError("TERN_SRCDIR is not set")
    deb = build(src)

    # the make check timeout sends SIGTERM: purge all the same
    def stopped(sig, frame):
        raise TestFailure("stopped by signal %d" % sig)
    signal.signal(signal.SIGTERM, stopped)
    try:
        run(["dpkg", "-i", deb], timeout=120, env=clean_env(), check_rc=0)
        pw = check_installed()
        check_unit()
        if os.path.isdir("/run/systemd/system"):
            # postinst started the service: the test's ternd needs the
            # data directory's lock
            log("systemd runs here: tern.service is %s; stopping it"
                % run(["systemctl", "is-active", "tern.service"]).out.strip())
            run(["systemctl", "stop", "tern.service"], timeout=60)
        serve(pw)
    except BaseException:
        try:
            purge()
        except Exception as e:  # noqa
            log("while purging after the failure: %s" % e)
        raise
    r = purge()
    check_eq(r.rc, 0, "dpkg -P tern exit status (%r)" % r)
    check_eq(dpkg_status(), "", "dpkg status after the purge")
    for path in (TERND, CONF, "/etc/tern", UNIT, "/etc/logrotate.d/tern",
                 DATA, LOGDIR,
                 "/etc/systemd/system/multi-user.target.wants/tern.service"):
        check(not os.path.lexists(path), "%s left after dpkg -P" % path)


main(test)
