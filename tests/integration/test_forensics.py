"""Forensics against the real daemon: the near-limit report (entering the
critical level writes one report, atomically, rate-limited; with a
configured limit just above current usage, and in a real cgroup v1 memory
cgroup whose limit is set just above the daemon's usage when we are root),
the before/after method (a workload that keeps objects alive shows them in
`reclaimctl diff`), and leak suspects (survivors rising across full
collections name their type in `reclaimctl watchdog` and the metrics)."""

import glob
import json
import os
import signal
import subprocess
import time

from harness import (Daemon, RECLAIMCTL, RECLAIMD, SRCDIR, check, http_get,
                     wait_for)

CGROUP_V1 = "/sys/fs/cgroup/memory"


def reports(d):
    return sorted(glob.glob(os.path.join(d.dir, "reports",
                                         "near-limit-*.json")))


def check_report(path, want_source=None, want_limit=None):
    with open(path) as f:
        r = json.load(f)
    for k in ("reason", "time_us", "pid", "level", "usage_bytes",
              "rss_bytes", "limit_bytes", "limit_source", "census",
              "garbage", "suspects", "leak_suspected_total"):
        check(k in r, "report lacks %s: %r" % (k, r))
    check(r["level"] in ("critical", "shedding"), "level %r" % r["level"])
    check(isinstance(r["census"]["types"], list) and
          "objects" in r["census"], "census: %r" % r["census"])
    for k in ("types", "cycles", "objects", "bytes", "debug_leak"):
        check(k in r["garbage"], "garbage lacks %s: %r" % (k, r["garbage"]))
    check(isinstance(r["suspects"], list), "suspects")
    if want_source:
        check(r["limit_source"] == want_source,
              "limit_source %r, want %r" % (r["limit_source"], want_source))
    if want_limit:
        check(r["limit_bytes"] == want_limit,
              "limit_bytes %d, want %d" % (r["limit_bytes"], want_limit))
    return r


def no_temporaries(d):
    left = [f for f in os.listdir(os.path.join(d.dir, "reports"))
            if not f.startswith("near-limit-")]
    check(not left, "temporary files left behind: %r" % left)


def level(d):
    return d.ctl_json("watchdog")["level"]


def reload_limit(d, conf, limit):
    d.write_conf(conf + "[watchdog]\nlimit = %s\nsoft = 90%%\nhard = 95%%\n"
                 % limit)
    d.send(signal.SIGHUP)


def test_configured_limit():
    """watchdog.limit just above the daemon's RSS: hard (95%) is below
    usage, so the level turns critical and one report is written."""
    conf = ("[forensics]\nreport_dir = %s\nreport_interval = 1h\n")
    with Daemon() as d:
        conf = conf % os.path.join(d.dir, "reports")
        d.write_conf(conf)
        d.send(signal.SIGHUP)
        wait_for(lambda: "configuration reloaded" in d.read_log(), "reload")
        check(reports(d) == [], "a report before the limit was near")
        rss = d.ctl_json("stats")["process"]["rss_bytes"]
        limit = rss + rss // 50
        reload_limit(d, conf, limit)
        wait_for(lambda: reports(d), "the near-limit report", timeout=15)
        r = check_report(reports(d)[0], want_limit=limit)
        print("configured limit %d: report at level %s, usage %d" %
              (limit, r["level"], r["usage_bytes"]))
        check(r["pid"] == d.proc.pid, "pid")
        no_temporaries(d)
        log = d.read_log()
        check("near-limit report: usage" in log and reports(d)[0] in log,
              "the log lacks the summary and the path:\n" + log)
        wait_for(lambda: d.ctl_json("stats")["forensics"]["reports_total"]
                 == 1, "forensics.reports_total to count the report")
        code, text = http_get(d.metrics_port, "/metrics?format=prometheus")
        check("\nreclaim_forensics_reports_total 1\n" in text,
              "Prometheus lacks the report count")

        # Leave the level and enter it again: rate-limited, no second file.
        reload_limit(d, conf, "auto")
        wait_for(lambda: level(d) == "normal", "the level to fall")
        reload_limit(d, conf, limit)
        wait_for(lambda: "near-limit report: skipped" in d.read_log(),
                 "the second report to be refused by the rate limit",
                 timeout=15)
        check(len(reports(d)) == 1, "rate limit: %r" % reports(d))
        check(d.stop() == 0, "reclaimd exit status")


def cgroup_v1_usable():
    if os.geteuid() != 0:
        return "not root"
    if not os.path.exists(os.path.join(CGROUP_V1, "memory.limit_in_bytes")):
        return "no cgroup v1 memory hierarchy at " + CGROUP_V1
    if not os.access(CGROUP_V1, os.W_OK):
        return CGROUP_V1 + " is not writable"
    return None


def cg_read(cg, name):
    with open(os.path.join(cg, name)) as f:
        return f.read()


def cg_usage(cg):
    """What the watchdog counts: usage less inactive file cache."""
    usage = int(cg_read(cg, "memory.usage_in_bytes"))
    for line in cg_read(cg, "memory.stat").splitlines():
        k, v = line.split()
        if k == "total_inactive_file":
            usage -= int(v)
    return usage


def test_cgroup_v1():
    """A real memory cgroup limit (with room to spare, so the kernel never
    has to act) and hard set just below the daemon's usage: the watchdog
    reads the limit (cgroup-v1), enters critical, reports."""
    why = cgroup_v1_usable()
    if why:
        print("cgroup v1 part skipped: " + why)
        return
    cg = os.path.join(CGROUP_V1, "reclaim-test-%d" % os.getpid())
    os.mkdir(cg)
    try:
        with Daemon(start=False) as d:
            base = "[forensics]\nreport_dir = %s\n" % os.path.join(
                d.dir, "reports")
            d.write_conf(base)
            d.start(argv=["/bin/sh", "-c",
                          'echo $$ > "$0/cgroup.procs" && exec "$@"', cg,
                          RECLAIMD, "-c", d.conf])
            usage = cg_usage(cg)
            limit = (usage + (64 << 20) + 4095) // 4096 * 4096
            with open(os.path.join(cg, "memory.limit_in_bytes"), "w") as f:
                f.write(str(limit))
            frac = float(usage) / limit  # about 1.5%
            d.write_conf(base + "[watchdog]\nhysteresis = %.6f\n"
                         "soft = %.6f\nhard = %.6f\n" %
                         (frac * 0.1, frac * 0.5, frac * 0.8))
            d.send(signal.SIGHUP)  # the new levels, and the limit re-read
            wait_for(lambda: reports(d), "the report in the cgroup",
                     timeout=20)
            r = check_report(reports(d)[0], want_source="cgroup-v1",
                             want_limit=limit)
            print("cgroup v1: limit %d, usage %d, report at level %s" %
                  (limit, r["usage_bytes"], r["level"]))
            no_temporaries(d)
            check(d.stop() == 0, "reclaimd exit status")
    finally:
        for _ in range(50):
            try:
                os.rmdir(cg)
                break
            except OSError:
                time.sleep(0.1)


def seed_available(d):
    code, _ = http_get(d.http_port, "/seed/leaky?mb=1")
    return code == 200


def test_diff():
    """The before/after method: with collection off, the leaky handler's
    cycles stay alive; snapshot, three requests, diff shows +3 of each."""
    with Daemon("[heap]\nthresholds = 0,0,0\nyoung_bytes = 0\n"
                "[watchdog]\nenabled = false\n", workers=1) as d:
        check(seed_available(d), "GET /seed/leaky?mb=1 is not 200")
        snap = d.ctl_json("snapshot")
        check("objects" in snap, "snapshot: %r" % snap)
        for _ in range(3):
            code, _ = http_get(d.http_port, "/seed/leaky?mb=1")
            check(code == 200, "GET /seed/leaky: %d" % code)
        diff = {t["type"]: t for t in d.ctl_json("diff")["types"]}
        for name in ("Runner", "Task"):
            check(name in diff, "diff lacks %s: %r" % (name, diff))
            check(diff[name]["objects_delta"] == 3,
                  "%s delta %r" % (name, diff[name]))
        grown = sum(t["bytes_delta"] for t in diff.values())
        check(grown >= 3 << 20, "diff does not show the 1 MiB payloads "
              "the Tasks keep alive: %r" % diff)
        rc, out, _ = d.ctl("diff")
        check(rc == 0 and "Runner" in out and "Task" in out, "diff: " + out)
        check(d.stop() == 0, "reclaimd exit status")


def leak_suspected(d):
    """Collect everything (a full collection: a new survivor floor) and
    say whether the watchdog has suspected a leak yet."""
    d.ctl("collect")
    return d.ctl_json("watchdog")["leak_suspected_total"] > 0


def test_leak_suspects():
    """A workload whose survivors keep rising (churn keeping every graph)
    across full collections: the watchdog's leak event names its type in
    `reclaimctl watchdog`, the Watchdog and Stats JSON and the metrics;
    with leak debugging on, with the rcl_new line that made its survivors
    and the task."""
    with Daemon(workers=1) as d:
        tasks = [t["name"] for t in d.ctl_json("tasks").get("tasks", [])]
        check("churn" in tasks, "churn is a built-in task: %r" % tasks)
        check(d.ctl_json("debug", "leak", "on") == {"leak": True}, "on")
        churn = subprocess.Popen(
            [RECLAIMCTL, "-S", d.sock, "run", "churn", "duration_ms=8000",
             "rate=300", "size=10", "payload=4096", "keep=1000000",
             "cycles=0"], stdout=subprocess.DEVNULL)
        try:
            # One full collection per watchdog sample (at most a second).
            end = time.monotonic() + 15
            while not leak_suspected(d):
                check(time.monotonic() < end, "no leak suspected in 15 s")
                time.sleep(1.2)
        finally:
            churn.wait(timeout=30)
        w = d.ctl_json("watchdog")
        names = [t["type"] for t in w["leak_suspects"]]
        check("ChurnNode" in names, "suspects: %r" % w["leak_suspects"])
        for t in w["leak_suspects"]:
            check(t["last"] > t["first"], "a suspect that did not rise: %r"
                  % t)
        node = [t for t in w["leak_suspects"] if t["type"] == "ChurnNode"][0]
        with open(os.path.join(SRCDIR, "daemon/tasks/churn.c")) as f:
            line = [i + 1 for i, text in enumerate(f)
                    if "rcl_new(h, &churn_node_type)" in text]
        site = node["sites"][0] if node["sites"] else {}
        check(site.get("file") == "daemon/tasks/churn.c" and
              [site.get("line")] == line and site.get("task") == "churn" and
              site.get("objects", 0) > 0,
              "ChurnNode survivors' site: %r, want line %r" % (node, line))
        s = d.ctl_json("stats")
        check(s["watchdog"]["leak_suspected_total"] >= 1 and
              "ChurnNode" in [t["type"] for t in
                              s["watchdog"]["leak_suspects"]],
              "stats: %r" % s["watchdog"])
        _, text = http_get(d.metrics_port, "/metrics?format=prometheus")
        check('reclaim_watchdog_leak_suspect_objects{type="ChurnNode"}'
              in text, "metrics lack the suspect")
        rc, out, _ = d.ctl("watchdog")
        check(rc == 0 and "SUSPECT TYPE" in out and "ChurnNode" in out and
              "ChurnNode made at daemon/tasks/churn.c:%d" % line[0] in out,
              "reclaimctl watchdog: " + out)
        check("leak suspect ChurnNode" in d.read_log(), "not logged")
        check(d.stop() == 0, "reclaimd exit status")


def main():
    test_configured_limit()
    test_cgroup_v1()
    test_diff()
    test_leak_suspects()
    print("ok")


if __name__ == "__main__":
    main()
