#!/usr/bin/python3
"""Plugins: the example plugin (daemon/plugins/example) is loaded, listed
and served: a request task that waits on a timer, a periodic task, an
on-demand task that waits for another task and one that waits for a file
descriptor. A broken plugin (missing file, no symbol, another ABI version, a
route already taken) is a clear error naming the file."""

import os
import subprocess
import time

from harness import RECLAIMD, Daemon, check, http_get, wait_for

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
    waited): the runtime broke each pair itself, the collector finds none."""
    d.ctl_json("collect")
    before = collected(d)
    for _ in range(10):
        st, _ = http_get(d.http_port, "/example/hello?ms=1")
        check(st == 200, "example/hello: %d" % st)
    d.ctl_json("run", "example-wait")
    d.ctl_json("collect")
    check(collected(d) == before, "the runtime left %d objects to the "
          "collector" % (collected(d) - before))


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
    start_fails("[tasks]\nmodules = %s\n" % clash, 1, clash,
                "route /seed/leaky is taken by seed-leaky")


def main():
    check(os.path.exists(EXAMPLE), "no example plugin at %r" % EXAMPLE)
    with Daemon(conf="[tasks]\nmodules = %s\n" % EXAMPLE) as d:
        test_example(d)
        test_no_cycles_left(d)
        test_drain(d)
    test_broken()
    print("ok")


if __name__ == "__main__":
    main()
