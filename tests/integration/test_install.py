"""meson install, as a Debian package build does it (--prefix=/usr into a
DESTDIR): every file where Debian expects it, the installed units passing
`systemd-analyze verify` on the installed tree, the systemdsystemunitdir
option moving the units, and the installed reclaimd started the way
reclaimd.socket starts it (on the first connection, one socket named
"control", $RUNTIME_DIRECTORY set) and driven by the installed reclaimctl,
including the unit's ExecReload= command line."""

import glob
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from harness import (SRCDIR, check, fail, free_port, http_get, run, skip,
                     wait_for)

MULTIARCH = None


def sh(argv, what, timeout=900, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       **kw)
    if p.returncode != 0:
        fail("%s: rc %d\n%s\n%s" % (what, p.returncode, p.stdout[-3000:],
                                    p.stderr[-3000:]))
    return p.stdout


def libdir():
    """Debian's libdir under /usr: lib/<multiarch>."""
    p = subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"],
                       capture_output=True, text=True)
    if p.returncode == 0 and p.stdout.strip():
        return "usr/lib/" + p.stdout.strip()
    p = subprocess.run(["gcc", "-print-multiarch"], capture_output=True,
                       text=True)
    return "usr/lib/" + p.stdout.strip() if p.stdout.strip() else "usr/lib"


def build(tmp):
    """A fresh build configured as a package build; its build directory."""
    bdir = os.path.join(tmp, "build")
    sh(["meson", "setup", bdir, SRCDIR, "--prefix=/usr", "-Dtests=false",
        "-Dman=enabled", "-Dbuildtype=plain"], "meson setup")
    sh(["meson", "compile", "-C", bdir, "-j", "2"], "meson compile")
    return bdir


def install(bdir, dest):
    sh(["meson", "install", "-C", bdir, "--no-rebuild", "--destdir", dest],
       "meson install")


def unitdir():
    p = subprocess.run(["pkg-config", "--variable=systemdsystemunitdir",
                        "systemd"], capture_output=True, text=True)
    return p.stdout.strip().lstrip("/") or None


def check_layout(dest):
    lib = libdir()
    want = [
        "usr/sbin/reclaimd",
        "usr/bin/reclaimctl",
        lib + "/libreclaim.so",
        lib + "/pkgconfig/reclaim.pc",
        "usr/include/reclaim/reclaim.h",
        "usr/include/reclaim/heap.h",
        "usr/include/reclaim/types.h",
        "usr/include/reclaim/watchdog.h",
        "usr/include/reclaimd/task.h",
        "usr/include/reclaim/task.h",
        "etc/reclaim/reclaimd.conf",
        "usr/share/bash-completion/completions/reclaimctl",
        "usr/share/man/man8/reclaimd.8",
        "usr/share/man/man1/reclaimctl.1",
        "usr/share/man/man5/reclaimd.conf.5",
        "usr/share/man/man3/libreclaim.3",
        "usr/share/reclaim/prometheus/reclaimd-alerts.yml",
    ]
    units = unitdir()
    if units is not None:
        want += [units + "/reclaimd.service", units + "/reclaimd.socket"]
    if subprocess.run(["pkg-config", "--exists", "libsystemd"]).returncode \
            == 0:  # the journal's catalog, for the MESSAGE_IDs logged
        want.append("usr/lib/systemd/catalog/reclaimd.catalog")
    for path in want:
        check(os.path.exists(os.path.join(dest, path)),
              "meson install did not put %s (got %s)" %
              (path, sorted(glob.glob(dest + "/**", recursive=True))))
    check(glob.glob(os.path.join(dest, lib, "libreclaim.so.*")),
          "no versioned libreclaim.so.N")
    for exe in ("usr/sbin/reclaimd", "usr/bin/reclaimctl"):
        check(os.access(os.path.join(dest, exe), os.X_OK), exe)
    pc = open(os.path.join(dest, lib, "pkgconfig/reclaim.pc")).read()
    check("prefix=/usr" in pc and "-lreclaim" in pc, "reclaim.pc: " + pc)
    if shutil.which("man"):
        for page in glob.glob(os.path.join(dest, "usr/share/man/man*/*")):
            out = sh(["man", "-l", "-P", "cat", page], "man -l " + page,
                     env=dict(os.environ, MANWIDTH="80"))
            check("NAME" in out and len(out) > 500, "empty page " + page)
    return os.path.join(dest, units) if units else None


def verify(dest, units):
    """systemd-analyze verify with the DESTDIR as root: ExecStart= and
    ExecReload= resolve to the installed binaries. The root lacks systemd's
    own targets (sysinit.target...), so the host's are copied in, beside
    ours in another directory of the unit search path."""
    tool = shutil.which("systemd-analyze")
    if tool is None or units is None:
        print("systemd-analyze or systemd.pc missing: verify skipped")
        return
    host = os.path.realpath("/lib/systemd/system")
    spare = os.path.join(dest, "usr/lib/systemd/system")
    if os.path.realpath(spare) == os.path.realpath(units):
        spare = os.path.join(dest, "etc/systemd/system")
    os.makedirs(spare, exist_ok=True)
    for target in glob.glob(os.path.join(host, "*.target")):
        shutil.copy(target, spare)
    sh([tool, "verify", "--man=no", "--root=" + dest, "reclaimd.service",
        "reclaimd.socket"], "systemd-analyze verify on the installed tree")
    # And it does look inside the tree: without the binary, it fails.
    exe = os.path.join(dest, "usr/sbin/reclaimd")
    os.rename(exe, exe + ".away")
    p = subprocess.run([tool, "verify", "--man=no", "--root=" + dest,
                        "reclaimd.service"], capture_output=True, text=True)
    os.rename(exe + ".away", exe)
    check(p.returncode != 0 and "reclaimd" in p.stderr,
          "verify passed without the installed reclaimd: %r" % p.stderr)


def unit_keys(path):
    keys = {}
    for line in open(path):
        line = line.strip()
        if line and line[0] not in "#;[" and "=" in line:
            k, v = line.split("=", 1)
            keys.setdefault(k, []).append(v)
    return keys


def ctl(dest, env, *args):
    return run([os.path.join(dest, "usr/bin/reclaimctl")] + list(args),
               env=env)


def port_open(port):
    s = socket.socket()
    try:
        return s.connect_ex(("127.0.0.1", port)) == 0
    finally:
        s.close()


def activate(dest, units, tmp):
    """Run the installed reclaimd as the units would: the socket unit's
    FileDescriptorName=, started on the first connection, the service's
    ExecStart= and ExecReload= command lines."""
    tool = shutil.which("systemd-socket-activate")
    if tool is None:
        print("systemd-socket-activate is not installed: activation skipped")
        return
    svc = unit_keys(os.path.join(units, "reclaimd.service"))
    sock = unit_keys(os.path.join(units, "reclaimd.socket"))
    rundir = os.path.join(tmp, "run", "reclaim")
    os.makedirs(rundir)
    path = os.path.join(rundir,
                        os.path.basename(sock["ListenStream"][0]))
    http, metrics = free_port(), free_port()
    conf = os.path.join(tmp, "reclaimd.conf")
    with open(conf, "w") as f:
        f.write("[http]\nlisten = 127.0.0.1:%d\nworkers = 2\n"
                "[metrics]\nlisten = 127.0.0.1:%d\n" % (http, metrics))
    env = dict(os.environ, RUNTIME_DIRECTORY=rundir,
               LD_LIBRARY_PATH=os.path.join(dest, libdir()))
    env.pop("XDG_RUNTIME_DIR", None)
    exec_start = shlex.split(svc["ExecStart"][0])
    argv = [dest + exec_start[0]] + exec_start[1:] + ["-c", conf]
    log = open(os.path.join(tmp, "log"), "w")
    proc = subprocess.Popen(
        [tool, "-l", path, "--fdname=" + sock["FileDescriptorName"][0],
         # It passes on only what it is told to, as systemd does.
         "-E", "RUNTIME_DIRECTORY", "-E", "LD_LIBRARY_PATH"] + argv, env=env, stderr=log, stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: os.path.exists(path), "the socket")
        time.sleep(0.3)
        check(not port_open(http), "reclaimd started before first use")
        # First use: the installed reclaimctl finds the socket through
        # $RUNTIME_DIRECTORY (no -S), which starts reclaimd.
        rc, out, err = ctl(dest, env, "stats")
        check(rc == 0 and "watchdog level" in out,
              "first reclaimctl stats: rc %d %r %r" % (rc, out, err))
        check(http_get(http, "/") == (200, "Hello, world"), "http")
        check(http_get(metrics, "/metrics")[0] == 200, "metrics")
        logtext = open(os.path.join(tmp, "log")).read()
        check("control: activated on " + path in logtext, logtext)
        # ExecReload=, as systemctl reload runs it.
        # Without its prefix ("+": as root, outside the sandbox).
        reload = shlex.split(svc["ExecReload"][0].lstrip("+-@:!"))
        reload[0] = dest + reload[0]
        rc, out, err = run(reload, env=env)
        check(rc == 0, "ExecReload %r: rc %d %r" % (reload, rc, err))
        with open(conf, "a") as f:
            f.write("[heap]\nthresholds = nonsense\n")
        rc, out, err = run(reload, env=env)
        check(rc == 1 and "thresholds" in err,
              "ExecReload with a bad file must fail: rc %d %r" % (rc, err))
        rc, out, err = ctl(dest, env, "stats")
        check(rc == 0, "stats after a failed reload")
        proc.send_signal(signal.SIGTERM)
        check(proc.wait(timeout=20) == 0, "exit status on SIGTERM")
        check(os.path.exists(path), "reclaimd removed the socket it was "
              "passed (the socket unit owns it)")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def headers_compile(dest):
    """A plugin builds against the installed <reclaimd/task.h>, and one
    written for the old name <reclaim/task.h> (a deprecated shim) too."""
    inc = os.path.join(dest, "usr/include")
    src = os.path.join(dest, "plugin.c")
    for header in ("reclaimd/task.h", "reclaim/task.h"):
        with open(src, "w") as f:
            f.write("#include <%s>\n\n"
                    "static int reg(rcl_registry *r, char **cause)\n"
                    "{\n\t(void)r;\n\t(void)cause;\n\treturn 0;\n}\n\n"
                    "RCL_PLUGIN(\"p\", \"a plugin\", reg);\n" % header)
        sh(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
            "-I", inc, src], "a plugin including <%s>" % header)
    os.unlink(src)


def main():
    for tool in ("meson", "ninja"):
        if shutil.which(tool) is None:
            skip(tool + " is not installed")
    if shutil.which("scdoc") is None:
        skip("scdoc is not installed")
    tmp = tempfile.mkdtemp(prefix="reclaim-install-")
    try:
        bdir = build(tmp)
        dest = os.path.join(tmp, "dest")
        install(bdir, dest)
        units = check_layout(dest)
        headers_compile(dest)
        verify(dest, units)
        activate(dest, units, tmp)
        # The option moves the units; nothing else changes.
        sh(["meson", "configure", bdir,
            "-Dsystemdsystemunitdir=/usr/lib/systemd/system"],
           "meson configure")
        dest2 = os.path.join(tmp, "dest2")
        sh(["meson", "install", "-C", bdir, "--destdir", dest2],
           "meson install with systemdsystemunitdir")
        for u in ("reclaimd.service", "reclaimd.socket"):
            check(os.path.exists(os.path.join(
                dest2, "usr/lib/systemd/system", u)),
                "-Dsystemdsystemunitdir did not move " + u)
    finally:
        if os.environ.get("KEEP") is None:
            shutil.rmtree(tmp, ignore_errors=True)
    print("ok")


main()
