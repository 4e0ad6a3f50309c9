#!/usr/bin/python3
"""The checks the VM runs in one boot, as a oneshot unit under systemd as
PID 1 with cgroup v2, on the packages as apt installed them (tests/vm/run
builds the image and reads the report back).

Each check asserts behaviour and logs the commands it ran with their
output; a failed check's log is what tests/vm/run prints. The report goes
to /var/lib/reclaim-vm/report.txt, synced after each check, and ends with
"vm: N passed, N failed"; the figures (watchdog reaction time, the guarded
and unguarded runs) also go to figures.json."""

import ctypes
import glob
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
import traceback

OUT = "/var/lib/reclaim-vm"
REPORT = OUT + "/report.txt"
CONF = "/etc/reclaim/reclaimd.conf"
ORIG = OUT + "/reclaimd.conf.shipped"
DROPIN = "/etc/systemd/system/reclaimd.service.d"
DEBS = "/root/debs"
SVC = "reclaimd.service"
SOCK = "reclaimd.socket"
LEAKY = "http://127.0.0.1:8888/seed/leaky"
MiB = 1 << 20
# The MESSAGE_IDs reclaimd logs, from daemon/reclaimd.h (tests/vm/run copies
# it beside this file): LOG_ID_RELOAD -> "RELOAD".
IDS_H = os.path.dirname(os.path.abspath(__file__)) + "/reclaimd.h"
# The watchdog re-reads the limit every 5 s (limit_refresh_ms); a change is
# seen at the first sample after that, which the poll interval (at most 1 s
# far from the limit) may delay by one more step.
REFRESH_BOUND = 5.0 + 1.0

FIGURES = {}
LOG = []


class Fail(Exception):
    pass


def log(*parts):
    LOG.append(" ".join(str(p) for p in parts))


def check(cond, what):
    if not cond:
        raise Fail(what)


def sh(cmd, ok=True, timeout=120, quiet=False):
    """Run a shell command; (rc, stdout+stderr). ok: fail unless rc 0."""
    try:
        p = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True,
                           timeout=timeout)
        rc, out = p.returncode, p.stdout
    except subprocess.TimeoutExpired as e:
        rc, out = -1, (e.stdout or b"").decode(errors="replace") + \
            "\n(timed out after %ds)" % timeout
    if not quiet or rc != 0:
        log("$ " + cmd + ("" if rc == 0 else "   [rc %d]" % rc))
        if out.strip():
            log(out.rstrip()[-4000:])
    if ok and rc != 0:
        raise Fail("%s: exit status %d" % (cmd, rc))
    return rc, out


def show(prop, unit=SVC):
    return sh("systemctl show %s -p %s --value" % (unit, prop),
              quiet=True)[1].strip()


def ctl(*args, ok=True):
    rc, out = sh("reclaimctl --json " + " ".join(args), ok=ok, quiet=True)
    return json.loads(out) if rc == 0 else None


def wait(pred, timeout, step=0.1):
    """Poll pred until true; the seconds it took, or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return time.monotonic() - t0
        time.sleep(step)
    return None


def cgroup_dir(unit=SVC):
    cg = show("ControlGroup", unit)
    return "/sys/fs/cgroup" + cg if cg else None


def events(path):
    """A cgroup's memory.events as a dict."""
    try:
        with open(path + "/memory.events") as f:
            return {k: int(v) for k, v in (l.split() for l in f)}
    except OSError:
        return {}


def write_conf(extra):
    """The shipped file plus extra lines (a later key wins)."""
    with open(ORIG) as f:
        base = f.read()
    with open(CONF, "w") as f:
        f.write(base + "\n# tests/vm\n" + extra)


def dropin(name, text):
    os.makedirs(DROPIN, exist_ok=True)
    with open("%s/%s.conf" % (DROPIN, name), "w") as f:
        f.write("[Service]\n" + text)
    sh("systemctl daemon-reload")


def clear_dropins():
    sh("rm -rf %s /run/systemd/system.control/%s.d && systemctl "
       "daemon-reload" % (DROPIN, SVC))


def restart():
    sh("systemctl restart " + SVC)
    check(show("ActiveState") == "active", "reclaimd did not come back")


def journal_since(cursor, unit=SVC):
    args = "--after-cursor=%s" % shlex.quote(cursor) if cursor else ""
    return sh("journalctl -u %s -o cat --no-pager %s" % (unit, args),
              quiet=True, ok=False)[1]


def cursor():
    out = sh("journalctl -n 0 --show-cursor --no-pager", quiet=True,
             ok=False)[1]
    m = re.search(r"-- cursor: (\S+)", out)
    return m.group(1) if m else ""


def ab(n, c, url=LEAKY, timeout=600, wait=30):
    """ab -r: (complete, failed, non-2xx, seconds, output)."""
    rc, out = sh("ab -r -s %d -n %d -c %d %s" % (wait, n, c, url), ok=False,
                 timeout=timeout, quiet=True)

    def num(label):
        m = re.search(r"^%s:\s+(\d+)" % label, out, re.M)
        return int(m.group(1)) if m else 0

    m = re.search(r"^Time taken for tests:\s+([\d.]+)", out, re.M)
    return (num("Complete requests"), num("Failed requests"),
            num("Non-2xx responses"), float(m.group(1)) if m else 0.0, out)


class Peak(threading.Thread):
    """Samples a cgroup's memory.current every 20 ms; .peak in bytes."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.peak, self.stop = path, 0, False

    def run(self):
        while not self.stop:
            try:
                with open(self.path + "/memory.current") as f:
                    self.peak = max(self.peak, int(f.read()))
            except (OSError, ValueError):
                pass
            time.sleep(0.02)


def quantile(hist, q):
    """Upper bound (ms) of the bucket holding quantile q of a histogram."""
    total = sum(hist["counts"])
    if total == 0:
        return None
    acc = 0
    bounds = hist["bounds_ns"] + [None]
    for b, n in zip(bounds, hist["counts"]):
        acc += n
        if acc >= q * total:
            return ">1000" if b is None else b / 1e6
    return None


def hist_delta(a, b):
    return {"bounds_ns": b["bounds_ns"],
            "counts": [y - x for x, y in zip(a["counts"], b["counts"])],
            "sum_ns": b["sum_ns"] - a["sum_ns"],
            "count": b["count"] - a["count"]}


# --- the checks ---------------------------------------------------------

def check_installed():
    """apt installed the three packages in a chroot, maintainer scripts
    run: the socket is enabled and listening, the service waits for it."""
    _, out = sh("dpkg-query -W -f='${Package} ${Status} ${Version}\\n' "
                "libreclaim1 libreclaim-dev reclaimd")
    check(out.count("install ok installed") == 3, "not all installed")
    _, out = sh("dpkg-query -W -f='${Conffiles}' reclaimd")
    check(CONF in out, "%s is not a conffile" % CONF)
    check(sh("systemctl is-enabled " + SOCK, ok=False)[1].strip() ==
          "enabled", "reclaimd.socket is not enabled")
    check(sh("systemctl is-active " + SOCK, ok=False)[1].strip() ==
          "active", "reclaimd.socket is not listening")
    check(sh("systemctl is-enabled " + SVC, ok=False)[1].strip() ==
          "disabled", "reclaimd.service should wait for its socket")
    check(sh("systemctl is-active " + SVC, ok=False)[1].strip() ==
          "inactive", "reclaimd.service started before any connection")
    check(os.path.exists("/run/reclaim/control"), "no /run/reclaim/control")
    sh("ls -l /usr/include/reclaim /usr/lib/*/pkgconfig/reclaim.pc "
       "/usr/lib/*/libreclaim.so*")
    check(os.path.exists("/usr/include/reclaimd/task.h"), "no task.h")
    check(os.path.exists("/usr/include/reclaim/task.h"),
          "no reclaim/task.h, the deprecated name")
    check(glob.glob("/usr/lib/*/libreclaim.so.1"), "no libreclaim.so.1")
    sh("grep -q ^Version: /usr/lib/*/pkgconfig/reclaim.pc")


def check_activation():
    """The first reclaimctl starts the service through the socket; systemd
    saw READY=1 (Type=notify, active) and STATUS=."""
    t0 = time.monotonic()
    sh("reclaimctl stats")
    FIGURES["activation_seconds"] = round(time.monotonic() - t0, 3)
    check(show("ActiveState") == "active", "not active after a connection")
    check(show("SubState") == "running", "not running")
    check(show("Type") == "notify", "Type=%s" % show("Type"))
    check(SOCK in show("TriggeredBy"), "not triggered by the socket")
    status = show("StatusText")
    log("StatusText=" + status)
    check(re.match(r"rss .+ of .+ \(\d+%\), level \w+, \d+ collections",
                   status),
          "no STATUS= from reclaimd: %r" % status)
    uid = int(show("UID") or -1)
    log("dynamic UID %d" % uid)
    check(61184 <= uid <= 65519, "not a dynamic user: UID %d" % uid)
    w = ctl("watchdog")
    log("watchdog: limit %s from %s, cgroup %s, notify %s" % (
        w["limit_bytes"], w["limit_source"], w["cgroup"], w["notify"]))
    FIGURES["notify_armed"] = w["notify"]
    check(w["cgroup"].endswith("/system.slice/reclaimd.service"),
          "watching %s, not the service's cgroup" % w["cgroup"])


def check_reload():
    """systemctl reload with a good file applies it; with a bad file it
    fails, names file, line and key, and the old configuration stays."""
    pid = show("MainPID")
    write_conf("[heap]\nthresholds = 800,10,10\n")
    sh("systemctl reload " + SVC)
    th = ctl("stats")["heap"]["thresholds"]
    log("thresholds after a good reload: %s" % th)
    check(th == [800, 10, 10], "good reload not applied: %s" % th)
    cur = cursor()
    write_conf("[heap]\nthresholds = 800,10,10\n[watchdog]\nsoft = 300%\n")
    rc, _ = sh("systemctl reload " + SVC, ok=False)
    check(rc != 0, "systemctl reload succeeded with a bad file")
    check(show("ActiveState") == "active" and show("MainPID") == pid,
          "the service did not survive a bad reload")
    th = ctl("stats")["heap"]["thresholds"]
    check(th == [800, 10, 10], "bad reload changed the config: %s" % th)
    j = journal_since(cur)
    log("journal:\n" + j[-1500:])
    lines = sum(1 for _ in open(CONF))
    check(re.search(r"%s:%d\b.*soft" % (re.escape(CONF), lines), j),
          "the journal does not name %s:%d and the key" % (CONF, lines))
    write_conf("")
    sh("systemctl reload " + SVC)
    check(ctl("stats")["heap"]["thresholds"] == [700, 10, 10], "restore")
    check(show("MainPID") == pid, "reload restarted the service")


def check_limits():
    """MemoryMax=/MemoryHigh= from a drop-in are the limit in force, and
    set-property at run time is seen within the re-read period."""
    dropin("50-vm-memory", "MemoryMax=512M\nMemoryHigh=384M\n")
    restart()
    w = ctl("watchdog")
    log("drop-in: limit %d (%s) from %s" % (w["limit_bytes"], w["cgroup"],
                                           w["limit_source"]))
    check(w["limit_source"] == "cgroup-v2", "source %s" % w["limit_source"])
    check(w["limit_bytes"] == 384 * MiB, "limit %d, want MemoryHigh=384M" %
          w["limit_bytes"])
    delays = []
    for prop, want in (("MemoryHigh=320M", 320), ("MemoryMax=300M", 300)):
        sh("systemctl set-property --runtime %s %s" % (SVC, prop))
        d = wait(lambda: ctl("watchdog")["limit_bytes"] == want * MiB,
                 REFRESH_BOUND + 4, 0.1)
        log("%s seen after %s s" % (prop, d))
        check(d is not None and d <= REFRESH_BOUND,
              "%s not picked up within %.0f s (%s)" % (prop, REFRESH_BOUND,
                                                       d))
        delays.append(round(d, 2))
    FIGURES["set_property_seen_seconds"] = delays
    clear_dropins()


# A neighbour in the service's cgroup: it holds the anonymous memory each
# line of its input asks for (every page written), and answers "ok".
HOG = r"""
import sys
held = []
for line in sys.stdin:
    n = int(line)
    b = bytearray(n)
    b[::4096] = b"\1" * len(range(0, n, 4096))
    held.append(b)
    print("ok", flush=True)
"""


class Hog:
    """A process moved into cgroup cg before it runs, that grows on
    demand: memory the service's own cgroup is charged for but the heaps
    did not take (a plugin's library, a helper the unit started)."""

    def __init__(self, cg):
        def enter():
            with open(cg + "/cgroup.procs", "w") as f:
                f.write(str(os.getpid()))
        self.p = subprocess.Popen([sys.executable, "-c", HOG], text=True,
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, preexec_fn=enter)
        self.grow(0)

    def grow(self, n, timeout=120):
        self.p.stdin.write("%d\n" % n)
        self.p.stdin.flush()
        box = []
        t = threading.Thread(target=lambda: box.append(
            self.p.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        check(box and box[0].strip() == "ok",
              "the hog did not take %d bytes within %d s" % (n, timeout))

    def stop(self):
        self.p.kill()
        self.p.wait()


def check_pressure():
    """Memory pressure on the service's own cgroup, made by a neighbour in
    it (Hog) with MemoryHigh=64M: usage past the hard level (95%) forces a
    full collection and writes the near-limit report under StateDirectory=
    as the dynamic user, atomically; a step past memory.high makes the
    kernel reclaim there, memory.events changes and wakes the watchdog,
    which takes it as pressure (a young collection). The reaction time, from
    wake-up to the end of the forced collection, is a figure. Then the
    neighbour goes and the seed's load is served: with admission, requests
    that would not fit get 503, the rest 200, and the service lives on.
    The hog stays a few MiB past memory.high, where the kernel's throttling
    is brief: the service's own load past it (before admission) stalled
    every thread for tens of seconds under emulation; WatchdogSec= is lifted
    all the same, so that a stall shows as a failed check with its figures,
    not as systemd's restart."""
    dropin("50-vm-pressure", "MemoryHigh=64M\nWatchdogSec=10min\n")
    write_conf("[forensics]\nreport_interval = 1s\n")
    restart()
    pid = show("MainPID")
    cg = cgroup_dir()
    ctl("stats")  # the service is up and answering
    w0 = ctl("watchdog")
    h0 = ctl("stats")["watchdog"]["reaction_histogram"]
    ev0 = events(cg)
    hog = Hog(cg)
    try:
        with open(cg + "/memory.current") as f:
            cur = int(f.read())
        want = 62 * MiB  # past hard (60.8 MiB), below memory.high
        log("memory.current %.1f MiB with the hog started; to %.1f MiB" % (
            cur / MiB, want / MiB))
        check(cur < want - MiB, "%.1f MiB in use before any load" %
              (cur / MiB))
        hog.grow(want - cur)
        crit = wait(lambda: ctl("watchdog")["forced_collections_total"] >
                    w0["forced_collections_total"], 15, 0.1)
        log("past the hard level: a forced collection after %s s" % crit)
        check(crit is not None, "usage past hard forced no collection")
        hog.grow(4 * MiB)  # past memory.high
        wait(lambda: events(cg).get("high", 0) > ev0.get("high", 0), 15)
        time.sleep(1.5)  # the pressure collection after the wake-up
    finally:
        hog.stop()
    w1 = ctl("watchdog")
    h1 = ctl("stats")["watchdog"]["reaction_histogram"]
    ev1 = events(cg)
    wk = {k: w1["wakeups"][k] - w0["wakeups"].get(k, 0)
          for k in w1["wakeups"]}
    h = hist_delta(h0, h1)
    log("notify armed: %s; wake-ups: %s" % (w1["notify"], wk))
    log("memory.events: %s -> %s" % (ev0, ev1))
    log("forced collections %d -> %d; reactions %d, p50 <= %s ms, p99 <= %s"
        " ms, last %.2f ms, max %.2f ms" % (
            w0["forced_collections_total"], w1["forced_collections_total"],
            h["count"], quantile(h, .5), quantile(h, .99),
            w1["reaction_last_ns"] / 1e6, w1["reaction_max_ns"] / 1e6))
    FIGURES["pressure"] = {
        "notify": w1["notify"], "wakeups": wk,
        "memory_events_high": ev1.get("high", 0) - ev0.get("high", 0),
        "reactions": h["count"],
        "reaction_mean_ms": round(h["sum_ns"] / h["count"] / 1e6, 3)
        if h["count"] else None,
        "reaction_p50_le_ms": quantile(h, .5),
        "reaction_p99_le_ms": quantile(h, .99),
        "reaction_max_ms": round(w1["reaction_max_ns"] / 1e6, 3),
        "forced": w1["forced_collections_total"] -
        w0["forced_collections_total"]}
    check(ev1.get("high", 0) > ev0.get("high", 0),
          "MemoryHigh=64M was never crossed: no pressure was made")
    check("memory-events" in w1["notify"], "memory.events is not watched")
    check(wk.get("memory-events", 0) > 0,
          "memory.events changed but never woke the watchdog")
    # The PSI trigger (150 ms of stall in 2 s) must be armed; whether it
    # fires depends on how long the kernel stalls the cgroup: a figure.
    check("psi" in w1["notify"] or "systemd" in w1["notify"],
          "no PSI trigger armed (notify: %s)" % w1["notify"])
    # the seed's load once the neighbour is gone: answered, 200 or 503
    wait(lambda: ctl("watchdog")["level"] == "normal", 15)
    complete, failed, non2xx, secs, out = ab(10, 2, wait=300)
    log("ab: %d complete, %d non-2xx (503: admission), %.1f s" % (
        complete, non2xx, secs))
    FIGURES["pressure"]["ab_complete"] = complete
    FIGURES["pressure"]["ab_non_2xx"] = non2xx
    check(complete == 10, "%d of 10 requests answered" % complete)
    ev2 = events(cg)
    check(show("NRestarts") == "0" and show("MainPID") == pid and
          ev2.get("oom_kill", 0) == 0,
          "the service did not live through the pressure: %s restarts, "
          "memory.events %s" % (show("NRestarts"), ev2))
    check_report()
    clear_dropins()
    write_conf("")


def check_report():
    """The near-limit report: in $STATE_DIRECTORY, owned by the dynamic
    user, whole JSON, no temporary file left."""
    uid = int(show("UID") or -1)
    d = "/var/lib/private/reclaim"
    sh("ls -la /var/lib/reclaim %s" % d, ok=False)
    check(os.path.islink("/var/lib/reclaim"),
          "/var/lib/reclaim is not DynamicUser='s link to %s" % d)
    reports = sorted(glob.glob(d + "/near-limit-*.json"))
    check(reports, "no near-limit report in %s" % d)
    for r in reports:
        st = os.stat(r)
        check(st.st_uid == uid, "%s is owned by %d, not the service's %d" %
              (r, st.st_uid, uid))
        with open(r) as f:
            doc = json.load(f)
        check(isinstance(doc, dict) and doc, "%s is empty" % r)
    log("report keys: %s" % sorted(json.load(open(reports[-1]))))
    tmp = [f for f in os.listdir(d) if f.endswith(".tmp")]
    check(not tmp, "temporary files left: %s" % tmp)
    FIGURES["near_limit_reports"] = len(reports)


def freeze(tid):
    """Stop thread tid alone (PTRACE_SEIZE, PTRACE_INTERRUPT) from a child
    that keeps it stopped but passes every signal on, so a SIGABRT or
    SIGKILL from systemd still ends the process, and that reaps the
    thread's exit. The child's pid, once the thread is stopped."""
    r, w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(w)
        ok = os.read(r, 1) == b"1"
        os.close(r)
        check(ok, "could not stop thread %d with ptrace" % tid)
        return pid
    os.close(r)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                            ctypes.c_void_p]
    if libc.ptrace(0x4206, tid, None, None) != 0 or \
            libc.ptrace(0x4207, tid, None, None) != 0:  # SEIZE, INTERRUPT
        os._exit(1)
    os.write(w, b"1")
    while True:
        try:
            _, status = os.waitpid(tid, 0x40000000)  # __WALL
        except ChildProcessError:
            os._exit(0)
        if not os.WIFSTOPPED(status):
            os._exit(0)
        sig = os.WSTOPSIG(status)
        if (status >> 16) == 128:  # PTRACE_EVENT_STOP: stay stopped
            continue
        libc.ptrace(7, tid, None, ctypes.c_void_p(sig))  # PTRACE_CONT


def check_keepalive():
    """A worker frozen in place (its thread alone stopped by ptrace) stops
    the WatchdogSec= keep-alive and systemd restarts the service."""
    dropin("50-vm-watchdog", "WatchdogSec=4s\n")
    restart()
    pid, restarts = int(show("MainPID")), int(show("NRestarts"))
    tids = [t for t in os.listdir("/proc/%d/task" % pid)
            if open("/proc/%d/task/%s/comm" % (pid, t)).read().strip() ==
            "rcl-worker-0"]
    check(tids, "no rcl-worker-0 thread in %d" % pid)
    tid = int(tids[0])
    cur = cursor()
    tracer = freeze(tid)
    t0 = time.monotonic()
    log("froze thread %d (rcl-worker-0) of %d" % (tid, pid))
    try:
        d = wait(lambda: show("MainPID") not in ("0", str(pid)) and
                 show("ActiveState") == "active", 60, 0.2)
    finally:
        if wait(lambda: os.waitpid(tracer, os.WNOHANG)[0] != 0, 10) is None:
            os.kill(tracer, 9)
            os.waitpid(tracer, 0)
    j = journal_since(cur)
    log("journal:\n" + j[-2000:])
    check(d is not None, "the service was not restarted within 60 s")
    FIGURES["keepalive_restart_seconds"] = round(time.monotonic() - t0, 2)
    check(int(show("NRestarts")) == restarts + 1, "NRestarts did not rise")
    check("does not answer" in j, "reclaimd did not say which worker hung")
    check(re.search(r"[Ww]atchdog timeout", j), "no watchdog timeout logged")
    clear_dropins()
    restart()


def check_journal():
    """The journal has reclaimd's own lines at their priorities (the "<N>"
    prefix turned into PRIORITY=)."""
    _, out = sh("journalctl -u %s -o json --no-pager" % SVC, quiet=True)
    prios = {}
    for line in out.splitlines():
        e = json.loads(line)
        if e.get("SYSLOG_IDENTIFIER") != "reclaimd":
            continue
        msg = e.get("MESSAGE", "")
        if isinstance(msg, list):
            msg = bytes(msg).decode(errors="replace")
        check(not re.match(r"<\d>", msg), "unparsed prefix: %r" % msg)
        prios.setdefault(int(e["PRIORITY"]), msg)
    log("a line per priority: %s" % json.dumps(prios, indent=1))
    for p, what in ((6, "info"), (4, "warning"), (3, "err")):
        check(p in prios, "no %s (PRIORITY=%d) line from reclaimd" %
              (what, p))


def message_ids():
    with open(IDS_H) as f:
        return dict(re.findall(r'#define LOG_ID_(\w+) "([0-9a-f]{32})"',
                               f.read()))


def by_id(mid, pid=None):
    """reclaimd's entries with MESSAGE_ID mid, as journalctl -u finds them
    (from process pid only, if given: journalctl 252's --after-cursor with
    matches skips the first entry that matches)."""
    _, out = sh("journalctl -u %s MESSAGE_ID=%s -o json --no-pager" % (
        SVC, mid), quiet=True, ok=False)
    e = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    return [x for x in e if pid is None or x.get("_PID") == pid]


def check_journal_events():
    """The events an operator searches for, each found by
    `journalctl -u reclaimd MESSAGE_ID=...`, sent natively with their
    fields: the reloads of check_reload, applied and refused; and, driven
    here by reloads of watchdog.limit, a level change, shedding begun and
    ended, the near-limit report with its path. The catalog (installed by
    the package, imported by systemd's dpkg trigger) lists every id, and
    journalctl -x shows its text beside an entry."""
    ids = message_ids()
    _, out = sh("journalctl --list-catalog --no-pager", quiet=True)
    missing = [n for n, m in ids.items() if m not in out]
    log("catalog: %d ids of reclaimd listed, missing %s" % (
        len(ids) - len(missing), missing))
    check(not missing, "journalctl --list-catalog lacks %s" % missing)
    for name in ("RELOAD", "RELOAD_REFUSED"):
        e = by_id(ids[name])
        check(e, "journalctl -u %s MESSAGE_ID=%s (%s) finds nothing" % (
            SVC, ids[name], name))
        log("%s: %d entries, the last: %s" % (name, len(e), e[-1]["MESSAGE"]))
        check(e[-1].get("CONFIG_FILE") == CONF, "CONFIG_FILE %r" %
              e[-1].get("CONFIG_FILE"))
    check("soft" in by_id(ids["RELOAD_REFUSED"])[-1].get("ERROR", ""),
          "the refused reload's ERROR does not name the key")
    restart()  # a process of its own: no report written yet, none skipped
    pid = show("MainPID")
    write_conf("[watchdog]\nlimit = 2MiB\n")
    sh("systemctl reload " + SVC)
    d = wait(lambda: ctl("watchdog")["level"] == "shedding", 20)
    check(d is not None, "a 2 MiB limit did not make reclaimd shed")
    write_conf("")
    sh("systemctl reload " + SVC)
    check(wait(lambda: ctl("watchdog")["level"] == "normal", 20) is not None,
          "the level did not come back to normal")
    got = {}
    for name in ("LEVEL", "SHED_BEGIN", "SHED_END", "REPORT"):
        e = by_id(ids[name], pid)
        check(e, "journalctl -u %s MESSAGE_ID=%s (%s) finds nothing" % (
            SVC, ids[name], name))
        got[name] = len(e)
        last = e[-1]
        log("%s: %s" % (name, json.dumps(
            {k: v for k, v in last.items() if not k.startswith("__")},
            sort_keys=True)))
        check(last.get("_TRANSPORT") == "journal" and
              last.get("SYSLOG_IDENTIFIER") == "reclaimd" and
              last.get("CODE_FILE", "").endswith(".c"),
              "%s not sent natively with its fields" % name)
    FIGURES["journal_events"] = got
    shed = by_id(ids["SHED_BEGIN"], pid)[-1]
    check(shed.get("LIMIT_BYTES") == str(2 * MiB) and
          shed.get("LEVEL") == "shedding", "shedding's fields: %r" % shed)
    levels = [e.get("LEVEL") for e in by_id(ids["LEVEL"], pid)]
    check("normal" in levels and ("critical" in levels or
                                  "shedding" in levels),
          "the level changes logged: %s" % levels)
    path = by_id(ids["REPORT"], pid)[-1].get("REPORT_PATH", "")
    check(path.startswith("/var/lib/reclaim/near-limit-") and
          os.path.exists(path), "REPORT_PATH %r" % path)
    _, out = sh("journalctl -u %s -x MESSAGE_ID=%s --no-pager" % (
        SVC, ids["REPORT"]), quiet=True)
    log("journalctl -x:\n" + out[-1200:])
    check("Subject: reclaimd wrote a near-limit report to " + path in out,
          "journalctl -x does not show the catalog's text")


def oom_run(name, conf, n, c):
    """The seed's load under MemoryMax=256M; what happened."""
    write_conf(conf)
    restart()
    sh("reclaimctl stats", quiet=True)
    pid, restarts = show("MainPID"), int(show("NRestarts"))
    slice_ev0 = events("/sys/fs/cgroup/system.slice")
    cur = cursor()
    peak = Peak(cgroup_dir())
    peak.start()
    complete, failed, non2xx, secs, out = ab(n, c)
    peak.stop = True
    time.sleep(2)  # systemd restarts it 1 s after an OOM kill
    slice_ev1 = events("/sys/fs/cgroup/system.slice")
    j = journal_since(cur)
    w = ctl("watchdog", ok=False) or {}
    r = {"complete": complete, "failed": failed, "non_2xx": non2xx,
         "seconds": secs,
         "oom_kill": slice_ev1.get("oom_kill", 0) -
         slice_ev0.get("oom_kill", 0),
         "restarts": int(show("NRestarts")) - restarts,
         "same_pid": show("MainPID") == pid,
         "peak_mib": round(peak.peak / MiB, 1),
         "forced": w.get("forced_collections_total"),
         "oom_logged": "OOM killer" in j or "oom-kill" in j,
         # what a restarted reclaimd says of its cgroup's earlier kills
         # (recorded: whether systemd keeps the unit's cgroup, and so its
         # oom_kill counter, across Restart= is what this shows)
         "oom_kills_at_start": w.get("oom_kills_at_start"),
         "start_line": (re.findall(r"cgroup \S+ has seen [^\n]*", j) or
                        [None])[-1]}
    log("%s: %s" % (name, r))
    log("journal:\n" + j[-1500:])
    FIGURES[name] = r
    return r


def check_oom():
    """The seed's load (ab, leaky route) under MemoryMax=256M: no OOM kill
    and no restart with the watchdog and byte pacing; OOM-killed with the
    watchdog off and count-only pacing."""
    dropin("50-vm-oom", "MemoryMax=256M\nMemorySwapMax=0\n")
    g = oom_run("guarded", "", 200, 20)
    u = oom_run("unguarded", "[watchdog]\nenabled = false\n"
                "[heap]\nyoung_bytes = 0\n", 200, 20)
    clear_dropins()
    write_conf("")
    restart()
    check(g["oom_kill"] == 0 and g["restarts"] == 0 and g["same_pid"],
          "guarded run: OOM-killed or restarted: %s" % g)
    check(g["complete"] == 200, "guarded run: not every request answered")
    check(u["oom_kill"] > 0 and u["restarts"] > 0 and u["oom_logged"],
          "unguarded run was not OOM-killed, so the check cannot tell the "
          "two apart: %s" % u)


def check_cgroupns():
    """reclaimd in a private cgroup namespace (a scope with MemoryMax=,
    unshare -C) finds the limit of its own cgroup."""
    results = {}
    for name, cmd in (
            ("unshare -C", "unshare -C"),
            ("unshare -Cm, cgroup2 mounted anew",
             "unshare -Cm sh -c 'umount /sys/fs/cgroup && "
             "mount -t cgroup2 none /sys/fs/cgroup && exec \"$0\" \"$@\"'")):
        sock = "/run/rcl-ns.sock"
        argv = ("systemd-run --quiet --scope -p MemoryMax=200M %s "
                "/usr/sbin/reclaimd -s control.socket=%s -s http.listen=off "
                "-s metrics.listen=off" % (cmd, sock))
        log("$ " + argv + " &")
        p = subprocess.Popen(argv, shell=True, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        try:
            wait(lambda: os.path.exists(sock), 20)
            rc, out = sh("reclaimctl -S %s --json watchdog" % sock, ok=False)
            w = json.loads(out) if rc == 0 else {}
        finally:
            p.terminate()
            try:
                log(p.communicate(timeout=20)[0][-1500:])
            except subprocess.TimeoutExpired:
                p.kill()
        results[name] = (w.get("limit_bytes"), w.get("limit_source"),
                         w.get("cgroup"))
        log("%s: limit %s from %s (%s)" % ((name,) + results[name]))
    FIGURES["cgroupns"] = results
    for name, (limit, source, _) in results.items():
        check(limit == 200 * MiB and source == "cgroup-v2",
              "%s: limit %s from %s, want 200 MiB from cgroup-v2" % (
                  name, limit, source))


def check_security():
    """systemd-analyze security on the running system: at most 2.0."""
    _, out = sh("systemd-analyze security --no-pager " + SVC)
    m = re.search(r"Overall exposure level for reclaimd\.service: "
                  r"(\d+\.\d+)", out)
    check(m, "no exposure figure")
    FIGURES["exposure"] = float(m.group(1))
    check(float(m.group(1)) <= 2.0, "exposure %s > 2.0" % m.group(1))


def check_lifecycle():
    """apt installs the same .debs again over themselves (a running service
    is restarted on the new files, a changed conffile kept), then purge
    leaves nothing behind."""
    sh("reclaimctl stats", quiet=True)
    pid = show("MainPID")
    with open(CONF, "a") as f:
        f.write("# changed by the admin\n")
    debs = " ".join(sorted(glob.glob(DEBS + "/*.deb")))
    sh("DEBIAN_FRONTEND=noninteractive apt-get install -y --reinstall "
       "-o Dpkg::Options::=--force-confold " + debs, timeout=300)
    check(show("ActiveState") == "active", "not running after the upgrade")
    check(show("MainPID") != pid, "the upgrade did not restart reclaimd")
    check(sh("systemctl is-active " + SOCK, ok=False)[1].strip() ==
          "active", "the socket is not listening after the upgrade")
    check("# changed by the admin" in open(CONF).read(),
          "the upgrade overwrote the admin's change to the conffile")
    sh("reclaimctl stats", quiet=True)
    sh("DEBIAN_FRONTEND=noninteractive apt-get purge -y reclaimd "
       "libreclaim-dev libreclaim1", timeout=300)
    for u in (SVC, SOCK):
        check(sh("systemctl is-active " + u, ok=False)[1].strip() !=
              "active", "%s still active after purge" % u)
    _, out = sh("dpkg-query -W -f='${Package} ${Status}\\n' reclaimd "
                "libreclaim1 libreclaim-dev 2>&1", ok=False)
    check("installed" not in out.replace("not-installed", ""),
          "still known to dpkg: %s" % out)
    skip = ("/usr/local/lib/reclaim-vm", OUT, DEBS, "/var/log/journal",
            "/proc", "/sys", "/var/cache/apt", "/var/lib/apt/lists")
    _, out = sh("find / -xdev -iname '*reclaim*' 2>/dev/null; "
                "find /run -iname '*reclaim*' 2>/dev/null", ok=False,
                quiet=True)
    left = [p for p in out.split() if not p.startswith(skip) and
            "reclaim-vm" not in p]
    log("left after purge: %s" % left)
    check(not left, "purge left files behind: %s" % left)


CHECKS = [check_installed, check_activation, check_reload, check_limits,
          check_pressure, check_keepalive, check_journal,
          check_journal_events, check_oom,
          check_cgroupns, check_security, check_lifecycle]


def main():
    os.makedirs(OUT, exist_ok=True)
    only = sys.argv[1:]
    if not only and os.path.exists(os.path.dirname(__file__) + "/only"):
        only = open(os.path.dirname(__file__) + "/only").read().split()
    with open(CONF) as src, open(ORIG, "w") as dst:
        dst.write(src.read())
    passed = failed = 0
    with open(REPORT, "w") as rep:
        rep.write("kernel %s; %s\n" % (os.uname().release, sh(
            "systemctl --version | head -n1", quiet=True)[1].strip()))
        for fn in CHECKS:
            name = fn.__name__[len("check_"):]
            if only and name not in only:
                continue
            del LOG[:]
            t0 = time.monotonic()
            try:
                fn()
                ok, why = True, ""
            except Fail as e:
                ok, why = False, str(e)
            except Exception:
                ok, why = False, traceback.format_exc()
            secs = time.monotonic() - t0
            passed += ok
            failed += not ok
            rep.write("%s %s (%.1f s)%s\n" % ("ok  " if ok else "FAIL",
                                               name, secs,
                                               "" if ok else ": " + why))
            if not ok:
                sh("journalctl -u %s -u %s -n 40 --no-pager" % (SVC, SOCK),
                   ok=False)
                rep.write("".join("    " + l + "\n"
                                  for l in "\n".join(LOG).splitlines()))
                sh("systemctl reset-failed; systemctl start " + SOCK,
                   ok=False, quiet=True)
            rep.flush()
            os.fsync(rep.fileno())
            with open(OUT + "/figures.json", "w") as f:
                json.dump(FIGURES, f, indent=1, sort_keys=True)
        rep.write("figures: %s\n" % json.dumps(FIGURES, sort_keys=True))
        rep.write("vm: %d passed, %d failed\n" % (passed, failed))
    os.sync()


if __name__ == "__main__":
    main()
