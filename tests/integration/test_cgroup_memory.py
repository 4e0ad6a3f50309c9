"""Where memory goes, and OOM kills before a start, in a real memory cgroup
(v1 here, v2 where the machine has it): reclaimd started in a cgroup whose
earlier process the kernel OOM-killed says so in its start-up log, and
Stats, the Prometheus text and `reclaimctl watchdog` show the count; a
kill while it runs raises the live counter, not the one at start; the
cgroup's anon/file/kernel figures are its memory.stat's; the unaccounted
bytes are the RSS less what the heaps account for. A cgroup without kills
says so too."""

import os
import subprocess
import sys

from cgroups import Cgroup
from harness import Daemon, RECLAIMD, check, fail, http_get

MiB = 1 << 20
LIMIT = 64 * MiB

# A process the kernel kills first (oom_score_adj 1000) that touches twice
# the cgroup's limit: the OOM killer ends it, inside the cgroup only.
HOG = ("open('/proc/self/oom_score_adj', 'w').write('1000'); "
       "b = bytearray(%d)" % (2 * LIMIT))


def oom_kill(cg):
    """Run the hog in cg; it must be killed (SIGKILL) and counted."""
    before = cg.oom_kills()
    p = subprocess.run(cg.argv([sys.executable, "-c", HOG]),
                       capture_output=True, timeout=60)
    check(p.returncode == -9, "the hog was not OOM-killed: rc %d %s" %
          (p.returncode, p.stderr))
    check(cg.oom_kills() == before + 1, "oom_kill %s after one kill" %
          cg.oom_kills())


def memory_stat(cg):
    """The cgroup's (anon, file) from its memory.stat, as the doc says."""
    keys = ("total_rss", "total_cache") if cg.version == 1 else \
        ("anon", "file")
    vals = {}
    with open(os.path.join(cg.dir, "memory.stat")) as f:
        for line in f:
            k, v = line.split()
            vals[k] = int(v)
    return vals[keys[0]], vals[keys[1]]


def prom(d, name):
    code, text = http_get(d.metrics_port, "/metrics?format=prometheus")
    check(code == 200, "scrape: %d" % code)
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    fail("no %s in the scrape" % name)


def test_breakdown(d, cg):
    s = d.ctl_json("stats")
    anon, file_ = memory_stat(cg)
    c = s["cgroup"]
    # read a moment apart from an idle daemon: within a MiB (a stack or
    # buffer touched meanwhile), never another cgroup's figures
    check(abs(c["anon_bytes"] - anon) <= MiB and 0 < anon < LIMIT,
          "cgroup.anon_bytes %d, memory.stat %d" % (c["anon_bytes"], anon))
    check(abs(c["file_bytes"] - file_) <= MiB,
          "cgroup.file_bytes %d, memory.stat %d" % (c["file_bytes"], file_))
    heaps = s["heap"]["bytes"] + s["heap"]["cached_bytes"]
    p = s["process"]
    check(p["unaccounted_bytes"] == max(p["rss_bytes"] - heaps, 0),
          "unaccounted %d, rss %d, heaps %d" %
          (p["unaccounted_bytes"], p["rss_bytes"], heaps))
    w = d.ctl_json("watchdog")["memory"]
    check(w["rss_bytes"] > 0 and w["cgroup_anon_bytes"] > 0 and
          w["unaccounted_bytes"] <= w["rss_bytes"], "Watchdog memory %r" % w)
    rc, out, _ = d.ctl("watchdog")
    check(rc == 0 and "unaccounted" in out and "anon" in out and
          "kernel" in out, "reclaimctl watchdog: %s" % out)
    print("  %s: anon %.1f MiB, file %.1f MiB, kernel %.1f MiB; rss %.1f "
          "MiB, unaccounted %.1f MiB" %
          (cg.dir, c["anon_bytes"] / MiB, c["file_bytes"] / MiB,
           c["kernel_bytes"] / MiB, p["rss_bytes"] / MiB,
           p["unaccounted_bytes"] / MiB))


def test_killed_before():
    with Cgroup("reclaim-test-oomstart-%d" % os.getpid(), limit=LIMIT) as cg:
        oom_kill(cg)
        with Daemon(start=False) as d:
            d.start(argv=cg.argv([RECLAIMD, "-c", d.conf]))
            log = d.read_log()
            check("has seen 1 OOM kill before this start" in log and
                  cg.dir in log, "start-up log: %s" % log)
            s = d.ctl_json("stats")["cgroup"]
            check(s["oom_kills_at_start"] == 1 and s["oom_kills_total"] == 1,
                  "Stats cgroup: %r" % s)
            check(prom(d, "reclaim_cgroup_oom_kills_at_start") == 1,
                  "Prometheus oom_kills_at_start")
            rc, out, _ = d.ctl("watchdog")
            check(rc == 0 and "1 (1 before this start)" in out,
                  "reclaimctl watchdog: %s" % out)
            test_breakdown(d, cg)
            # a kill while reclaimd runs: the live counter rises, the
            # start's stays
            oom_kill(cg)
            check(d.proc.poll() is None, "reclaimd was killed, not the hog")
            w = d.ctl_json("watchdog")
            check(w["oom_kills_total"] == 2 and w["oom_kills_at_start"] == 1,
                  "after a second kill: %r" % w)
            check(prom(d, "reclaim_cgroup_oom_kills_total") == 2,
                  "Prometheus oom_kills_total")
            check(d.stop() == 0, "reclaimd exit status")


def test_clean():
    with Cgroup("reclaim-test-oomclean-%d" % os.getpid(), limit=LIMIT) as cg:
        with Daemon(start=False) as d:
            d.start(argv=cg.argv([RECLAIMD, "-c", d.conf]))
            check("has seen no OOM kill" in d.read_log(),
                  "start-up log: %s" % d.read_log())
            s = d.ctl_json("stats")["cgroup"]
            check(s["oom_kills_at_start"] == 0 and s["oom_kills_total"] == 0,
                  "Stats cgroup: %r" % s)
            check(d.stop() == 0, "reclaimd exit status")


def main():
    test_killed_before()
    test_clean()
    print("ok")


if __name__ == "__main__":
    main()
