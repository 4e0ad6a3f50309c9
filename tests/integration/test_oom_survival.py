"""Never killed: the write-up's load (ab on /seed/leaky) with payloads from
20 MiB to the route's maximum, 512 MiB, in real memory cgroups of 64, 128
and 256 MiB, paced by bytes and by counts alone (heap.young_bytes = 0):
the kernel kills nothing, every request is answered 200 or 503 (with
Retry-After), and the daemon serves normally once the load stops. An
on-demand task that would hold more than fits fails with
io.reclaim.OutOfMemory, with a budget (tasks.max_bytes) and without. The
same load with the watchdog off and count-only pacing is OOM-killed, so
the test can tell the two apart. As root, in cgroup v1 or v2; skipped
under a sanitizer, whose shadow memory the limits would not hold."""

import re
import subprocess
import sys
import time
import urllib.request

from cgroups import Cgroup, which
from harness import Daemon, check, fail, wait_for, RECLAIMD, skip

MiB = 1 << 20
AB = None


def sanitized():
    p = subprocess.run(["ldd", RECLAIMD], capture_output=True, text=True)
    return any(s in p.stdout for s in ("libtsan", "libasan", "libmsan"))


def ab(port, mb, n, c):
    """ab -v 2 on /seed/leaky?mb=mb: (status counts, ab's output)."""
    p = subprocess.run([AB, "-v", "2", "-n", str(n), "-c", str(c), "-s",
                        "60", "http://127.0.0.1:%d/seed/leaky?mb=%d" %
                        (port, mb)],
                       capture_output=True, text=True, timeout=300)
    codes = {}
    for code in re.findall(r"^HTTP/1\.[01] (\d+)", p.stdout, re.M):
        codes[int(code)] = codes.get(int(code), 0) + 1
    m = re.search(r"Failed requests:\s+\d+\s*\n\s*\(Connect: (\d+), "
                  r"Receive: (\d+), Length: \d+, Exceptions: (\d+)\)",
                  p.stdout)
    broken = sum(int(x) for x in m.groups()) if m else 0
    if not m and "Failed requests:        0" not in p.stdout:
        broken = -1
    return codes, broken, p.stdout[-600:] + p.stderr[-300:]


def get(port, path):
    """(status, headers); status 0 when the connection failed."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path))
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)
    except (urllib.error.URLError, ConnectionError) as e:
        return 0, {"error": str(e)}


def serves(d):
    """A default request is answered 200 within a few tries, each after
    the Retry-After a 503 gives."""
    for _ in range(5):
        code, headers = get(d.http_port, "/seed/leaky")
        if code == 200:
            return True
        check(code == 503 and "Retry-After" in headers,
              "after the load: %d %r" % (code, headers))
        time.sleep(int(headers["Retry-After"]))
    return False


def run(limit_mb, mb, pacing, n, c):
    """One load in a fresh cgroup; what it saw."""
    conf = "[heap]\nyoung_bytes = 0\n" if pacing == "counts" else ""
    with Cgroup("reclaim-oom-%d-%d-%s" % (limit_mb, mb, pacing),
                limit=limit_mb * MiB) as cg:
        with Daemon(workers=2, conf=conf, start=False) as d:
            d.start(argv=cg.argv([RECLAIMD, "-c", d.conf]))
            codes, broken, out = ab(d.http_port, mb, n, c)
            time.sleep(0.1)  # a kill takes the kernel a moment
            kills = cg.oom_kills()
            alive = d.proc.poll() is None
            check(kills == 0 and alive,
                  "%d MiB, mb=%d, %s: OOM-killed (oom_kill %s, %s)\n%s" %
                  (limit_mb, mb, pacing, kills,
                   "alive" if alive else "dead", out))
            ok_after = serves(d)
            refused = 0
            if alive:
                refused = d.ctl_json("stats")["heap"].get("refused_total", 0)
            peak = cg.max_usage()
            d.stop()
    answered = codes.get(200, 0) + codes.get(503, 0)
    print("  %3d MiB cgroup, mb=%3d, paced by %-6s: oom_kill %s, %3d x 200, "
          "%3d x 503, refused %3d, peak %s" %
          (limit_mb, mb, pacing, kills, codes.get(200, 0),
           codes.get(503, 0), refused,
           "%.0f MiB" % (peak / MiB) if peak else "?"))
    check(broken == 0 and answered == n and set(codes) <= {200, 503},
          "%d MiB, mb=%d, %s: every request answered 200 or 503: %r, "
          "broken %d\n%s" % (limit_mb, mb, pacing, codes, broken, out))
    check(ok_after, "%d MiB, mb=%d: no 200 once the load stopped" %
          (limit_mb, mb))
    return codes


def on_demand(max_bytes, expect):
    """An on-demand task that would hold more than fits (churn keeping
    40,000 graphs of 1 KiB nodes, some 450 MiB) in 256 MiB: it fails with
    io.reclaim.OutOfMemory saying why, and the daemon carries on. The task
    may run 30 s, far longer than it takes to fill what it keeps at
    its rate (2 s): on a loaded machine it makes fewer graphs a second, and
    with 3 s it once ended, holding less than 256 MiB, without a refusal.
    The refusal ends it as soon as it comes."""
    conf = "[tasks]\nmax_bytes = %s\n" % max_bytes
    with Cgroup("reclaim-oom-task", limit=256 * MiB) as cg:
        with Daemon(workers=2, conf=conf, start=False) as d:
            d.start(argv=cg.argv([RECLAIMD, "-c", d.conf]))
            rc, out, err = d.ctl("run", "churn", "duration_ms=30000",
                                 "rate=20000", "keep=40000", "payload=1024")
            time.sleep(0.1)
            kills = cg.oom_kills()
            check(kills == 0 and d.proc.poll() is None,
                  "churn in 256 MiB: OOM-killed (%s)" % kills)
            check(rc == 1 and "io.reclaim.OutOfMemory" in err and
                  expect in err, "churn: rc %d: %s" % (rc, err))
            rc2, out2, err2 = d.ctl("run", "tree")
            check(rc2 == 0, "tree after the refusal: rc %d: %s" %
                  (rc2, err2))
            check(serves(d), "no 200 after the task")
            oom = wait_for(lambda: d.ctl_json("stats")["tasks"]
                           ["out_of_memory_total"], "the task counted")
            d.stop()
    print("  on demand, tasks.max_bytes = %s: %s" % (max_bytes, err.strip()))
    return oom


def unguarded():
    """The control: watchdog off, count-only pacing, 128 MiB, 20 MiB
    payloads: the cycles pile up until the kernel kills the daemon."""
    conf = "[heap]\nyoung_bytes = 0\n[watchdog]\nenabled = false\n"
    with Cgroup("reclaim-oom-unguarded", limit=128 * MiB) as cg:
        with Daemon(workers=2, conf=conf, start=False) as d:
            d.start(argv=cg.argv([RECLAIMD, "-c", d.conf]))
            ab(d.http_port, 20, 200, 10)
            time.sleep(0.2)
            kills = cg.oom_kills()
            died = d.proc.poll() is not None
    print("  unguarded (watchdog off, count-only pacing): oom_kill %s, %s" %
          (kills, "killed" if died else "alive"))
    check(kills and kills > 0 and died,
          "the unguarded control was not OOM-killed: the test cannot tell "
          "a guarded daemon from one that got lucky")


def main():
    global AB
    if sanitized():
        skip("reclaimd is built with a sanitizer, whose shadow memory the "
             "cgroup limits would not hold")
    AB = which("ab")
    for limit_mb in (64, 128, 256):
        for mb in (20, 40, 100, 512):
            for pacing in ("bytes", "counts"):
                run(limit_mb, mb, pacing, 60, 10)
    on_demand("25%", "its budget (tasks.max_bytes)")
    on_demand("0", "past the watchdog's hard level")
    unguarded()
    print("ok")


if __name__ == "__main__":
    sys.exit(main())
