#!/usr/bin/python3
"""Plugins: the example plugin (daemon/plugins/example) is loaded, listed
and served: a request task that waits on a timer, a periodic task, an
on-demand task that waits for another task and one that waits for a file
descriptor. A broken plugin (missing file, no symbol, another ABI version, a
route already taken) is a clear error naming the file, and --check-config
finds what start-up would (registration runs in a forked child). A plugin
someone else could change is refused (sshd's StrictModes); a reload loads no
plugin into the running daemon (a new one's constructor does not run, a
truncated one does not kill it with SIGBUS)."""

import os
import shutil
import signal
import subprocess
import time

from harness import RECLAIMD, Daemon, check, fail, http_get, wait_for

EXAMPLE = os.environ.get("EXAMPLE_PLUGIN", "")
PLUGINS = os.environ.get("TEST_PLUGIN_DIR", "")


def test_example(d):
    tasks = {t["name"]: t for t in d.ctl_json("tasks")["tasks"]}
    for name, kind in (("example-hello", "request"),
                       ("example-tick", "periodic"),
                       ("example-ticks", "on-demand"),
                       ("example-wait", "on-demand"),
                       ("example-pipe", "on-demand")):
        check(name in tasks and tasks[name]["kind"] == kind,
              "%s: %r" % (name, tasks.get(name)))
        check(tasks[name]["origin"] == EXAMPLE, "origin %r" % tasks[name])
    t0 = time.monotonic()
    st, body = http_get(d.http_port, "/example/hello?ms=150")
    took = time.monotonic() - t0
    check(st == 200 and body.startswith("Hello from a plugin, after 150 ms"),
          "GET /example/hello: %d %r" % (st, body))
    check(took >= 0.14, "answered after %.3f s, before its timer" % took)
    st, body = http_get(d.http_port, "/example/hello?ms=x")
    check(st == 400, "bad ms: %d" % st)
    first = d.ctl_json("run", "example-wait")["result"]
    check(first["waited_for"] == "example-ticks", "%r" % first)
    later = wait_for(lambda: d.ctl_json("run", "example-ticks")["result"]
                     ["ticks"] >= first["ticks"] + 5 and True,
                     "the periodic task to tick")
    check(later, "ticks")
    r = d.ctl_json("run", "example-pipe")["result"]
    check(r["read"] == "ping", "example-pipe: %r" % r)
    p = subprocess.run(["curl", "-sS", "-H", "X-Who: test", "--data-binary",
                        "a body", "http://127.0.0.1:%d/example/echo" %
                        d.http_port], capture_output=True, text=True,
                       timeout=20)
    check(p.stdout == "POST from test: a body", "echo: %r" % p.stdout)
    rc, _, err = d.ctl("run", "example-fail")
    check(rc == 1 and "io.reclaim.TaskFailed" in err and
          "failed as asked" in err, "example-fail: %d %r" % (rc, err))
    st, body = http_get(d.http_port, "/")
    check(st == 200 and body == "Hello, world", "built-in / still served")


def collected(d):
    return d.ctl_json("stats")["heap"]["collected_total"]


def test_no_cycles_left(d):
    """Every request waited on a timer (runner <-> yield point while it
    waited): the runtime broke each pair itself, the collector finds none.
    Checked as a plugin's own tests would: leak debugging on, drive the
    routes, collect, `reclaimctl garbage --check` exits 0."""
    check(d.ctl_json("debug", "leak", "on") == {"leak": True}, "leak on")
    d.ctl_json("collect")
    d.ctl("garbage")  # start from an empty report
    before = collected(d)
    for _ in range(10):
        st, _ = http_get(d.http_port, "/example/hello?ms=1")
        check(st == 200, "example/hello: %d" % st)
    d.ctl_json("run", "example-wait")
    d.ctl_json("collect")
    check(collected(d) == before, "the runtime left %d objects to the "
          "collector" % (collected(d) - before))
    rc, out, err = d.ctl("garbage", "--check")
    check(rc == 0, "garbage --check: %d\n%s%s" % (rc, out, err))
    check(d.ctl_json("debug", "leak", "off") == {"leak": False}, "leak off")


def test_drain(d):
    """SIGTERM while a request task waits: it finishes, then reclaimd
    exits 0."""
    p = subprocess.Popen(["curl", "-s", "-w", " %{http_code}",
                          "http://127.0.0.1:%d/example/hello?ms=700" %
                          d.http_port], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    check(d.stop() == 0, "exit status after the drain")
    out, _ = p.communicate(timeout=10)
    check(out.startswith("Hello from a plugin, after 700 ms") and
          out.endswith(" 200"), "the request in flight got %r" % out)


def start_fails(conf, code, *texts, check_config=False):
    d = Daemon(conf=conf, start=False)
    try:
        argv = [RECLAIMD, "-c", d.conf] + (["--check-config"]
                                           if check_config else [])
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        check(p.returncode == code, "%s: exit %d, expected %d: %s" %
              (conf.strip(), p.returncode, code, p.stderr))
        for t in texts:
            check(t in p.stderr, "%r lacks %r" % (p.stderr, t))
    finally:
        d.__exit__()


def test_broken():
    missing = os.path.join(PLUGINS, "no-such-plugin.so")
    nosym = os.path.join(PLUGINS, "plugin-nosym.so")
    badabi = os.path.join(PLUGINS, "plugin-badabi.so")
    clash = os.path.join(PLUGINS, "plugin-clash.so")
    start_fails("[tasks]\nmodules = %s\n" % missing, 2, missing,
                "cannot load", "tasks.modules", "reclaimd.conf:")
    start_fails("[tasks]\nmodules = %s\n" % nosym, 2, nosym,
                "no symbol reclaim_plugin")
    start_fails("[tasks]\nmodules = %s, %s\n" % (EXAMPLE, badabi), 2, badabi,
                "ABI version 99", "has version 1")
    start_fails("[tasks]\nmodules = %s\n" % nosym, 2, nosym,
                check_config=True)
    # Registration fails: a configuration error, found by --check-config
    # too (before, it said "configuration OK" and start-up failed).
    for cc in (False, True):
        start_fails("[tasks]\nmodules = %s\n" % clash, 2, clash,
                    "route /seed/leaky is taken by seed-leaky",
                    check_config=cc)


def check_config(conf, env=None, preexec_fn=None):
    d = Daemon(conf=conf, start=False)
    try:
        p = subprocess.run([RECLAIMD, "-c", d.conf, "--check-config"],
                           capture_output=True, text=True, timeout=20,
                           env=dict(os.environ, **(env or {})),
                           preexec_fn=preexec_fn)
        return p.returncode, p.stderr
    finally:
        d.__exit__()


def private_copy(top, name, src):
    """src copied to top/name/plugin.so, root's, 0755 all the way."""
    pdir = os.path.join(top, name)
    os.mkdir(pdir, 0o755)
    dst = os.path.join(pdir, "plugin.so")
    shutil.copy(src, dst)
    os.chmod(dst, 0o755)
    return pdir, dst


def test_strict_modes():
    """The file or a directory above it writable by others, or another
    user's: refused, naming what is wrong; a sticky directory of root's
    (as /tmp, above every test directory) is fine."""
    with Daemon(start=False) as d:
        pdir, so = private_copy(d.dir, "p", EXAMPLE)
        conf = "[tasks]\nmodules = %s\n" % so
        rc, err = check_config(conf)
        check(rc == 0, "a safe copy refused: %s" % err)
        for what, path, mode, owner, want in (
                ("the file 0666", so, 0o666, 0,
                 "refused: writable by its group or by others"),
                ("the file 0775", so, 0o775, 0,
                 "refused: writable by its group or by others"),
                ("the file nobody's", so, 0o755, 65534,
                 "refused: owned by another user"),
                ("its directory 0777", pdir, 0o777, 0,
                 "refused: directory %s is writable" % pdir),
                ("its directory nobody's", pdir, 0o755, 65534,
                 "refused: directory %s is owned by another user" % pdir)):
            os.chmod(path, mode)
            os.chown(path, owner, -1)
            rc, err = check_config(conf)
            check(rc == 2 and want in err and so in err,
                  "%s: exit %d: %s" % (what, rc, err))
            os.chmod(path, 0o755)
            os.chown(path, 0, -1)
        os.chmod(pdir, 0o1777)
        rc, err = check_config(conf)
        check(rc == 0, "a sticky directory of root's refused: %s" % err)
        rc, err = check_config("[tasks]\nmodules = plugin.so\n")
        check(rc == 2 and "give a path with a slash" in err,
              "a bare name: exit %d: %s" % (rc, err))


def test_check_config_crash():
    """A plugin that crashes while loading kills the checking child, not
    --check-config: a clear error naming it."""
    ctor = os.path.join(PLUGINS, "plugin-ctor.so")
    # A sanitizer's SEGV handler would report the crash it was asked for
    # (under TSan, into the CI's report directory): let the signal kill.
    env = {"RECLAIM_TEST_CTOR_CRASH": "1"}
    for k in ("ASAN_OPTIONS", "TSAN_OPTIONS", "UBSAN_OPTIONS"):
        env[k] = (os.environ.get(k, "") + " handle_segv=0").strip()
    # With SIGCHLD ignored, as a supervisor can hand it down, the kernel
    # reaped the child itself: waitpid failed, and the crash passed.
    for ign in (None, lambda: signal.signal(signal.SIGCHLD, signal.SIG_IGN)):
        rc, err = check_config("[tasks]\nmodules = %s\n" % ctor, env=env,
                               preexec_fn=ign)
        # Killed by the signal; under a sanitizer, whose handler exits
        # instead, "ended the check (exit status 1)".
        check(rc == 2 and
              ("plugin %s: loading it killed the check (signal %d" %
               (ctor, signal.SIGSEGV) in err or
               "plugin %s: loading it ended the check" % ctor in err),
              "SIGCHLD %s: exit %d: %s" %
              ("ignored" if ign else "default", rc, err))


def test_reload_loads_nothing():
    """A reload adds a plugin with a constructor, then one truncated into
    its loaded segments (dlopen of that copy died of SIGBUS): the daemon
    loads neither, keeps serving, and the truncated one fails the reload
    with a reason."""
    ctor = os.path.join(PLUGINS, "plugin-ctor.so")
    with Daemon(start=False) as d:
        mark = os.path.join(d.dir, "ctor-ran")
        d.env["RECLAIM_TEST_CTOR_MARK"] = mark
        d.start()
        d.write_conf("[tasks]\nmodules = %s\n" % ctor)
        rc, _, err = d.ctl("reload")
        check(rc == 0, "reload with a new plugin: %s" % err)
        if os.path.exists(mark):
            with open(mark) as f:
                fail("the new plugin's constructor ran in %s (reclaimd is "
                     "%d)" % (f.read().split(), d.proc.pid))
        check("tasks.modules applies at the next start" in d.read_log(),
              "the log does not say when modules apply")
        _, so = private_copy(d.dir, "t", EXAMPLE)
        with open(so, "r+b") as f:
            f.truncate(8192)
        d.write_conf("[tasks]\nmodules = %s\n" % so)
        rc, _, err = d.ctl("reload")
        check(d.proc.poll() is None, "reclaimd died: %r" % d.proc.returncode)
        check(rc == 1 and "truncated" in err and so in err,
              "reload with a truncated plugin: rc %d %r" % (rc, err))
        check(d.ctl("stats")[0] == 0, "reclaimd stopped answering")
        check(d.stop() == 0, "exit status")


def main():
    check(os.path.exists(EXAMPLE), "no example plugin at %r" % EXAMPLE)
    with Daemon(conf="[tasks]\nmodules = %s\n" % EXAMPLE) as d:
        test_example(d)
        test_no_cycles_left(d)
        test_drain(d)
    test_broken()
    test_strict_modes()
    test_check_config_crash()
    test_reload_loads_nothing()
    print("ok")


if __name__ == "__main__":
    main()
