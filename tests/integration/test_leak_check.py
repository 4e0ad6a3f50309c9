"""Forensics that point at the code (allocation sites). With leak debugging on:
five /seed/leaky and five /seed/fixed requests (curl) attribute every
Runner and Task the collector finds to /seed/leaky, with the rcl_new()
lines of daemon/tasks/seed-leaky.c that made them, and nothing to
/seed/fixed; a plugin's leak is traced to the lines of its own file;
`reclaimctl garbage --check` exits 0 with nothing found, 1 with the report,
2 with leak debugging off; Prometheus counts the garbage per task; census
and diff trace live objects to their sites; the site record shows in the
stats while on and is gone once off."""

import os
import re
import subprocess

from harness import Daemon, RECLAIMCTL, SRCDIR, check, http_get, wait_for

N = 5
PLUGINS = os.environ.get("TEST_PLUGIN_DIR", "")
CYCLE = "Runner -yield_point-> Task -runner-> Runner"


def line_of(path, pattern):
    """The line number of the one line of SRCDIR/path matching pattern."""
    with open(os.path.join(SRCDIR, path)) as f:
        found = [i + 1 for i, text in enumerate(f) if re.search(pattern, text)]
    check(len(found) == 1, "%s: %r on lines %r" % (path, pattern, found))
    return found[0]


def curl(d, path):
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w",
                        "%{http_code}", "http://127.0.0.1:%d%s" %
                        (d.http_port, path)], capture_output=True,
                       text=True, timeout=30)
    check(p.stdout == "200", "GET %s: %r %r" % (path, p.stdout, p.stderr))


def collect(d):
    rc, _, err = d.ctl("collect")
    check(rc == 0, "collect: " + err)


def test_check_off(d):
    rc, out, err = d.ctl("garbage", "--check")
    check(rc == 2 and "leak debugging is off" in err,
          "--check with debugging off: %d %r %r" % (rc, out, err))


def test_seed(d):
    """The goal: every Runner and Task to /seed/leaky, with their lines."""
    runner_line = line_of("daemon/tasks/seed-leaky.c",
                          r"rcl_new\(.*&seed_runner_type\)")
    task_line = line_of("daemon/tasks/seed-leaky.c",
                        r"rcl_new\(.*&seed_task_type\)")
    for _ in range(N):
        curl(d, "/seed/leaky?mb=1")
        curl(d, "/seed/fixed?mb=1")
    collect(d)
    g = d.ctl_json("garbage")
    rows = {(t["task"], t["type"]): t["count"] for t in g["tasks"]}
    check(rows == {("/seed/leaky", "Runner"): N, ("/seed/leaky", "Task"): N},
          "garbage by task: %r" % g["tasks"])
    sites = {(s["type"], s["file"], s["line"], s["function"], s["task"],
              s["cycle"]): s["count"] for s in g["sites"]}
    want = {("Runner", "daemon/tasks/seed-leaky.c", runner_line,
             "seed_leaky_step", "/seed/leaky", CYCLE): N,
            ("Task", "daemon/tasks/seed-leaky.c", task_line, "leaky_gen",
             "/seed/leaky", CYCLE): N}
    check(sites == want, "sites %r, want %r" % (g["sites"], want))
    check(not any(t["task"] == "/seed/fixed" for t in g["tasks"] + g["sites"]),
          "garbage attributed to /seed/fixed: %r" % g)
    return runner_line, task_line


def test_human(d, task_line):
    for _ in range(2):
        curl(d, "/seed/leaky?mb=1")
    collect(d)
    rc, out, err = d.ctl("garbage", "--check")
    check(rc == 1, "--check after a leak: %d %r" % (rc, err))
    for text in ("TYPE", CYCLE, "MADE", "WHERE",
                 "Task at daemon/tasks/seed-leaky.c:%d (leaky_gen)" % task_line,
                 "TASK", "/seed/leaky"):
        check(text in out, "--check output lacks %r:\n%s" % (text, out))
    rc, out, err = d.ctl("garbage", "--check")
    check(rc == 0 and "no garbage" in out,
          "--check after reading the report: %d %r" % (rc, out))


def test_by(d):
    curl(d, "/seed/leaky?mb=1")
    collect(d)
    rc, out, _ = d.ctl("garbage", "--by", "route")
    check(rc == 0 and "/seed/leaky" in out and "FIELDS TO BREAK" not in out
          and "\nTYPE " not in out, "--by route:\n" + out)
    rc, out, err = d.ctl("garbage", "--by", "nothing")
    check(rc == 2 and "bad argument" in err, "--by nothing: %d %r" % (rc, err))


def test_plugin(d):
    """A plugin's leak names its own file's lines; its fixed route none."""
    path = "tests/integration/plugins/leaks.c"
    a, b = line_of(path, "LEAK-SITE-A"), line_of(path, "LEAK-SITE-B")
    for _ in range(3):
        curl(d, "/test/leak")
        curl(d, "/test/noleak")
    collect(d)
    rc, out, _ = d.ctl("garbage", "--check")
    check(rc == 1, "--check after the plugin's leak: %d" % rc)
    for line in (a, b):
        text = "test.Pair at %s:%d (make_pair)" % (path, line)
        check(text in out, "output lacks %r:\n%s" % (text, out))
    check("/test/leak" in out and "/test/noleak" not in out,
          "attribution:\n" + out)
    rc, out, _ = d.ctl("garbage", "--check")
    check(rc == 0, "--check again: %d %r" % (rc, out))


def test_prometheus(d):
    code, text = http_get(d.metrics_port, "/metrics?format=prometheus")
    check(code == 200, "metrics: %d" % code)
    series = dict(re.findall(
        r'^reclaim_garbage_collected_objects_total\{task="([^"]*)"\} (\d+)$',
        text, re.M))
    # test_seed's 2N, test_human's 4, test_by's 2; the plugin's 6
    check(series.get("/seed/leaky") == str(2 * N + 4 + 2),
          "per-task counter: %r" % series)
    check(series.get("/test/leak") == "6", "plugin counter: %r" % series)
    check("/seed/fixed" not in series and "/test/noleak" not in series,
          "fixed routes counted: %r" % series)


def test_census(d, runner_line, task_line):
    """Live objects by site: a type that grows is traced to the line that
    keeps making it (census, and diff since a snapshot)."""
    collect(d)
    rc, _, err = d.ctl("snapshot")
    check(rc == 0, "snapshot: " + err)
    for _ in range(3):
        curl(d, "/seed/leaky?mb=0")  # no payload: no collection runs
    c = d.ctl_json("census")
    live = {(s["type"], s["file"], s["line"], s["function"], s["task"]):
            s["objects"] for s in c["sites"]}
    key = ("Task", "daemon/tasks/seed-leaky.c", task_line, "leaky_gen",
           "/seed/leaky")
    check(live.get(key) == 3, "census by site: %r" % c["sites"])
    diff = d.ctl_json("diff")
    rose = {(s["type"], s["line"]): s["objects_delta"] for s in diff["sites"]}
    check(rose.get(("Task", task_line)) == 3 and
          rose.get(("Runner", runner_line)) == 3,
          "diff by site: %r" % diff["sites"])
    rc, out, _ = d.ctl("diff")
    text = "Runner at daemon/tasks/seed-leaky.c:%d (seed_leaky_step)" % \
        runner_line
    check(rc == 0 and text in out and "MADE AT" in out, "diff:\n" + out)
    collect(d)
    d.ctl("garbage")


def test_runtime_objects(d):
    """The runner and frame the runtime makes for a task are attributed
    to it too, made at daemon/runner.c's runner_create."""
    p = subprocess.Popen([RECLAIMCTL, "-S", d.sock, "run", "test-sleep",
                          "ms=20000"], stdout=subprocess.DEVNULL)
    try:
        def frame():
            for s in d.ctl_json("census")["sites"]:
                if s["type"] == "test.waits" and s["task"] == "test-sleep":
                    return s
            return None
        s = wait_for(frame, "the sleeping task's frame in the census")
        check(s["file"] == "daemon/runner.c" and
              s["function"] == "runner_create", "frame's site: %r" % s)
    finally:
        p.kill()
        p.wait()


def test_record_freed(d):
    heap = d.ctl_json("stats")["heap"]
    check(heap["sites_bytes"] > 0 and
          heap["sites_objects"] <= heap["objects"],
          "the record while on: %r" % heap)
    check(d.ctl_json("debug", "leak", "off") == {"leak": False}, "off")
    heap = d.ctl_json("stats")["heap"]
    check(heap["sites_bytes"] == 0 and heap["sites_objects"] == 0,
          "the record once off: %r" % heap)


def main():
    plugins = ", ".join(os.path.join(PLUGINS, "plugin-%s.so" % p)
                        for p in ("leaks", "waits"))
    with Daemon(conf="[tasks]\nmodules = %s\n" % plugins) as d:
        test_check_off(d)
        check(d.ctl_json("debug", "leak", "on") == {"leak": True}, "on")
        rc, _, _ = d.ctl("garbage", "--check")
        check(rc == 0, "--check before any request: %d" % rc)
        runner_line, task_line = test_seed(d)
        test_human(d, task_line)
        test_by(d)
        test_plugin(d)
        test_prometheus(d)
        test_census(d, runner_line, task_line)
        test_runtime_objects(d)
        test_record_freed(d)
        check(d.stop() == 0, "reclaimd exit status")
    print("ok")


if __name__ == "__main__":
    main()
