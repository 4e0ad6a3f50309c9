"""Every reclaimctl command against the real daemon: human output, --json,
and exit statuses 0 (ok), 1 (daemon error), 2 (usage), 3 (unreachable);
GET / on http.listen and GET /metrics on metrics.listen."""

import json
import os
import pty
import select
import signal
import time

from harness import (Daemon, check, fail, http_get, run, wait_for, RECLAIMCTL)

STATS_KEYS = ["process.rss_bytes", "limit.bytes", "heap.objects",
              "heap.bytes", "heap.collections_total", "heap.collected_total",
              "watchdog.level", "watchdog.forced_collections_total",
              "http.requests_total", "http.shed_total"]


def path(obj, dotted):
    for k in dotted.split("."):
        check(isinstance(obj, dict) and k in obj, "missing key " + dotted)
        obj = obj[k]
    return obj


def check_stats_schema(s, nworkers):
    for k in STATS_KEYS:
        path(s, k)
    check(len(s["workers"]) == nworkers, "workers: %r" % s["workers"])
    for w in s["workers"]:
        for k in STATS_KEYS:
            if k.startswith("heap.") or k.startswith("http."):
                path(w, k)
    total = sum(w["heap"]["collections_total"] for w in s["workers"])
    check(s["heap"]["collections_total"] == total,
          "total collections is not the sum of the workers'")


def ok(d, *args):
    rc, out, err = d.ctl(*args)
    check(rc == 0, "%s: rc %d, stderr %r" % (" ".join(args), rc, err))
    check(err == "", "%s: stderr not empty: %r" % (" ".join(args), err))
    return out


def error(d, want_rc, want_err, *args):
    rc, out, err = d.ctl(*args)
    check(rc == want_rc, "%s: rc %d, want %d (%r)" %
          (" ".join(args), rc, want_rc, err))
    check(want_err in err, "%s: stderr %r lacks %r" %
          (" ".join(args), err, want_err))
    check(len(err.strip().splitlines()) == 1,
          "%s: want one stderr line, got %r" % (" ".join(args), err))


def test_http(d):
    code, body = http_get(d.http_port, "/")
    check(code == 200 and body == "Hello, world", "GET /: %d %r" % (code, body))
    code, _ = http_get(d.http_port, "/nowhere")
    check(code == 404, "GET /nowhere: %d" % code)
    wait_for(lambda: d.ctl_json("stats")["http"]["requests_total"] >= 2,
             "http.requests_total to count the requests")
    code, body = http_get(d.metrics_port, "/metrics")
    check(code == 200, "GET /metrics: %d" % code)
    m = json.loads(body)
    check_stats_schema(m, 2)
    check(m["http"]["requests_total"] >= 2, "metrics requests_total")


def test_stats(d):
    out = ok(d, "stats")
    for word in ["rss", "watchdog level", "WORKER", "OBJECTS", "total",
                 "pauses", "increments (longest", "passes of the oldest"]:
        check(word in out, "stats lacks %r:\n%s" % (word, out))
    s = d.ctl_json("stats")
    check_stats_schema(s, 2)
    check(s["heap"]["thresholds"] == [700, 10, 10], "thresholds in stats")


def test_collect(d):
    before = d.ctl_json("stats")["heap"]["collections_total"]
    out = ok(d, "collect")
    check("generation 2" in out and "WORKER" in out, "collect: " + out)
    r = d.ctl_json("collect", "0")
    check(r["generation"] == 0 and len(r["workers"]) == 2, "collect 0: %r" % r)
    check("collected" in r, "collect --json lacks collected")
    wait_for(lambda: d.ctl_json("stats")["heap"]["collections_total"] >=
             before + 4, "collections_total to rise by 2 per worker")
    error(d, 2, "GEN must be", "collect", "3")
    error(d, 2, "wrong number", "collect", "1", "2")


def test_debug_garbage(d):
    check("leak debugging on" in ok(d, "debug", "leak", "on"), "debug on")
    check(d.ctl_json("debug", "leak", "off") == {"leak": False}, "debug off")
    check(d.ctl_json("stats")["debug"]["leak"] is False, "stats debug.leak")
    error(d, 2, "expected on or off", "debug", "leak", "maybe")
    # the configuration's booleans
    check(d.ctl_json("debug", "leak", "yes") == {"leak": True}, "debug yes")
    check(d.ctl_json("debug", "leak", "OFF") == {"leak": False}, "debug OFF")
    error(d, 2, "unknown flag", "debug", "nothing", "on")
    rc, out, err = d.ctl("garbage")
    check(rc in (0, 1), "garbage rc %d" % rc)
    if rc == 1:
        check("io.reclaim.NotImplemented" in err, "garbage: " + err)


def test_census_snapshot_diff(d):
    out = ok(d, "census")
    check("TYPE" in out and "objects" in out, "census: " + out)
    c = d.ctl_json("census")
    check(isinstance(c["types"], list) and "bytes" in c, "census json")
    fresh = Daemon()
    with fresh:
        error(fresh, 1, "io.reclaim.NoSnapshot", "diff")
    check("snapshot taken" in ok(d, "snapshot"), "snapshot")
    s = d.ctl_json("snapshot")
    check("taken_us" in s and "objects" in s, "snapshot json %r" % s)
    out = ok(d, "diff")
    check("nothing rose" in out or "TYPE" in out, "diff: " + out)
    check(isinstance(d.ctl_json("diff")["types"], list), "diff json")


def test_watchdog(d):
    out = ok(d, "watchdog")
    for word in ["level", "usage", "limit from", "forced collections"]:
        check(word in out, "watchdog lacks %r" % word)
    w = d.ctl_json("watchdog")
    check(w["enabled"] is True and w["limit_bytes"] > 0, "watchdog %r" % w)


def test_thresholds(d):
    check("700,10,10" in ok(d, "thresholds"), "thresholds")
    r = d.ctl_json("thresholds", "900,11,12", "1048576")
    check(r == {"thresholds": [900, 11, 12], "young_bytes": 1048576},
          "set thresholds: %r" % r)
    check(d.ctl_json("stats")["heap"]["thresholds"] == [900, 11, 12],
          "stats after thresholds")
    check("900,11,12" in ok(d, "thresholds"), "thresholds after set")
    error(d, 2, "three counts", "thresholds", "1,2")
    error(d, 2, "YOUNG_BYTES", "thresholds", "1,2,3", "lots")
    # YOUNG_BYTES is a size as heap.young_bytes is (reclaimd.conf(5), VALUES)
    r = d.ctl_json("thresholds", "900,11,12", "8MiB")
    check(r["young_bytes"] == 8 << 20, "thresholds 8MiB: %r" % r)
    r = d.ctl_json("thresholds", "900,11,12", "2k")
    check(r["young_bytes"] == 2048, "thresholds 2k: %r" % r)
    for bad in ("8MB", "1.5G", "8 MiB", "-1", "80%"):
        error(d, 2, 'thresholds: YOUNG_BYTES "%s" is ' % bad,
              "thresholds", "1,2,3", bad)
    error(d, 2, "not a size: a whole number of bytes", "thresholds",
          "1,2,3", "8MB")
    error(d, 2, "is a percentage", "thresholds", "1,2,3", "80%")
    d.ctl_json("thresholds", "900,11,12", "1048576")


def test_tasks_run_reload(d):
    check("no tasks" in ok(d, "tasks") or "TASK" in ok(d, "tasks"), "tasks")
    check(isinstance(d.ctl_json("tasks")["tasks"], list), "tasks json")
    error(d, 1, "io.reclaim.NoSuchTask", "run", "no-such-task", "a=b")
    error(d, 2, "key=value", "run", "x", "novalue")
    error(d, 2, "wrong number", "run")
    check("reloaded" in ok(d, "reload"), "reload")
    check(d.ctl_json("reload") == {}, "reload json")


def test_top(d):
    out = ok(d, "top", "--once")
    for word in ["rss", "level", "collections/s", "over the last minute"]:
        check(word in out, "top lacks %r:\n%s" % (word, out))
    check("\033" not in out, "top --once printed escape sequences")
    check_stats_schema(d.ctl_json("top", "--once"), 2)
    error(d, 2, "unknown option", "top", "--sometimes")


def test_top_live(d):
    """top on a terminal: frames every second, a clean terminal on exit."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(RECLAIMCTL, [RECLAIMCTL, "-S", d.sock, "top"])
    out = b""
    end = time.monotonic() + 10
    while out.count(b"\033[H") < 2 and time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    check(out.count(b"\033[H") >= 2, "top drew fewer than two frames")
    check(b"\033[?1049h" in out, "top did not use the alternate screen")
    os.kill(pid, signal.SIGINT)
    end = time.monotonic() + 5
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            out += data
    _, status = os.waitpid(pid, 0)
    check(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0,
          "top exit status %r" % status)
    check(out.rstrip().endswith(b"\033[?25h\033[?1049l"),
          "top left the terminal dirty: %r" % out[-40:])
    os.close(fd)


def test_usage_and_unreachable(d):
    error(d, 2, "unknown command", "frobnicate")
    rc, out, err = run([RECLAIMCTL, "-S", d.sock])
    check(rc == 2 and "no command" in err, "no command: %d %r" % (rc, err))
    rc, out, err = run([RECLAIMCTL, "--help"])
    check(rc == 0 and "stats" in out and "top" in out, "--help")
    missing = os.path.join(d.dir, "missing")
    rc, out, err = run([RECLAIMCTL, "-S", missing, "stats"])
    check(rc == 3 and missing in err, "unreachable: %d %r" % (rc, err))
    check(len(err.strip().splitlines()) == 1, "unreachable: one line")


def main():
    with Daemon() as d:
        test_http(d)
        test_stats(d)
        test_collect(d)
        test_debug_garbage(d)
        test_census_snapshot_diff(d)
        test_watchdog(d)
        test_thresholds(d)
        test_tasks_run_reload(d)
        test_top(d)
        test_top_live(d)
        test_usage_and_unreachable(d)
        check(d.stop() == 0, "reclaimd exit status")
    print("ok")


main()
