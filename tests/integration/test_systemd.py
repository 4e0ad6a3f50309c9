"""The units as meson configured them: the sandboxing directives README-systemd.md lists,
`systemd-analyze security --offline=true` rating reclaimd.service at 2.0 or
less, and a sandbox that does not break the daemon: the settings it cannot
live without are absent, and every system call reclaimd makes while it
serves (traced with strace through start, every control command, HTTP,
metrics, notification, reload and stop) passes the unit's
SystemCallFilter=."""

import os
import re
import shutil
import signal
import socket
import subprocess
import time

from harness import (Daemon, RECLAIMD, check, fail, http_get, run, skip,
                     wait_for)

BUILD = os.path.dirname(os.path.dirname(os.path.abspath(RECLAIMD)))
UNITS = os.path.join(BUILD, "systemd")
MAX_EXPOSURE = 2.0


def unit(name):
    """The configured unit as {key: [values]}, comments dropped."""
    keys = {}
    with open(os.path.join(UNITS, name)) as f:
        for line in f:
            line = line.strip()
            if line and line[0] not in "#;[" and "=" in line:
                k, v = line.split("=", 1)
                keys.setdefault(k, []).append(v)
    return keys


def check_directives(svc, sock):
    want = {"Type": "notify", "NotifyAccess": "main",
            "Restart": "on-failure", "RuntimeDirectory": "reclaim",
            "StateDirectory": "reclaim"}
    for k, v in want.items():
        check(svc.get(k) == [v], "reclaimd.service: %s=%r, want %s" %
              (k, svc.get(k), v))
    check("WatchdogSec" in svc, "reclaimd.service: no WatchdogSec=")
    check(os.path.isabs(svc["ExecStart"][0].split()[0]) and
          svc["ExecStart"][0].split()[0].endswith("/reclaimd"),
          "ExecStart: %r" % svc["ExecStart"])
    check("@" not in " ".join(svc["ExecStart"] + svc["ExecReload"]),
          "unfilled @...@ in the unit")
    reload = svc["ExecReload"][0]
    check(reload.endswith("reclaimctl reload") or "-HUP" in reload,
          "ExecReload does not send SIGHUP: %r" % reload)
    # The activated socket is root's, mode 0660: the dynamic user cannot
    # connect to it, so reclaimctl must run as root ("+").
    check("-HUP" in reload or reload.startswith("+"),
          "ExecReload=%s cannot reach the socket unit's socket" % reload)
    check(sock.get("ListenStream", [""])[0].startswith("/run/reclaim/"),
          "ListenStream: %r" % sock.get("ListenStream"))
    check(sock.get("SocketMode") == ["0660"], "SocketMode")
    check(sock.get("FileDescriptorName") == ["control"],
          "FileDescriptorName")
    # What the daemon cannot do without.
    check("PrivateNetwork" not in svc, "PrivateNetwork= cuts off loopback")
    check(svc.get("ProcSubset", ["all"]) == ["all"],
          "ProcSubset=pid hides /proc/meminfo and /proc/pressure")
    check("PrivateUsers" not in svc,
          "PrivateUsers= maps control.group members to nobody")
    families = " ".join(svc.get("RestrictAddressFamilies", []))
    for fam in ("AF_UNIX", "AF_INET", "AF_INET6"):
        check(fam in families.split(), "RestrictAddressFamilies lacks " + fam)
    check("localhost" in " ".join(svc.get("IPAddressAllow", ["any"])) or
          "IPAddressDeny" not in svc, "loopback is denied")
    check(svc.get("ProtectControlGroups", ["no"]) != ["strict"],
          "/sys/fs/cgroup must stay readable")
    check("InaccessiblePaths" not in svc, "InaccessiblePaths=")


def exposure():
    tool = shutil.which("systemd-analyze")
    rc, out, err = run([tool, "security", "--offline=true", "--no-pager",
                        os.path.join(UNITS, "reclaimd.service")])
    m = re.search(r"Overall exposure level for reclaimd\.service: "
                  r"(\d+\.\d+)", out + err)
    if m is None:
        fail("no exposure figure in: %r %r" % (out[-500:], err[-500:]))
    return float(m.group(1))


def syscall_groups():
    """{"@group": [members]} from systemd-analyze syscall-filter."""
    rc, out, _ = run(["systemd-analyze", "syscall-filter", "--no-pager"])
    check(rc == 0, "systemd-analyze syscall-filter")
    groups, cur = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            cur = groups.setdefault(line.split()[0], [])
        elif cur is not None and line.startswith("    ") and \
                not line.strip().startswith("#"):
            cur.append(line.split()[0])
        elif not line.strip():
            cur = None
    return groups


def expand(groups, names, seen=None):
    out = set()
    for n in names:
        if n.startswith("@"):
            out |= expand(groups, groups.get(n, []))
        else:
            out.add(n)
    return out


def allowed_syscalls(svc):
    """The set SystemCallFilter= lines allow, applied in order."""
    groups = syscall_groups()
    allowed = None
    for line in svc["SystemCallFilter"]:
        deny = line.startswith("~")
        names = expand(groups, line.lstrip("~").split())
        if deny:
            allowed = (allowed or set()) - names
        else:
            allowed = (allowed or set()) | names
    return allowed


class Manager:
    """systemd's side of sd_notify: a datagram socket."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.seen = ""

    def wait(self, what, timeout=10):
        end = time.monotonic() + timeout
        while what not in self.seen and time.monotonic() < end:
            try:
                self.seen += self.sock.recv(4096).decode() + "\n"
            except socket.timeout:
                pass
        check(what in self.seen, "no %s (seen %r)" % (what, self.seen))


def traced_syscalls():
    """Every system call of reclaimd while it does its whole job."""
    strace = shutil.which("strace")
    with Daemon(start=False) as d:
        trace = os.path.join(d.dir, "trace")
        notify = Manager(os.path.join(d.dir, "notify"))
        d.env["NOTIFY_SOCKET"] = os.path.join(d.dir, "notify")
        d.env["WATCHDOG_USEC"] = "400000"
        d.env.pop("WATCHDOG_PID", None)
        d.start(argv=[strace, "-f", "-qq", "-c", "-U", "name,calls",
                      "-o", trace, RECLAIMD, "-c", d.conf])
        notify.wait("READY=1")
        for args in (["stats"], ["collect"], ["debug", "leak", "on"],
                     ["garbage"], ["census"], ["snapshot"], ["diff"],
                     ["watchdog"], ["thresholds", "700,10,10"], ["tasks"],
                     ["reload"], ["top", "--once"]):
            rc, _, err = d.ctl(*args)
            check(rc in (0, 1), "reclaimctl %s under strace: %r" % (args, err))
        for _ in range(20):
            check(http_get(d.http_port, "/")[0] == 200, "GET /")
        check(http_get(d.metrics_port, "/metrics")[0] == 200, "metrics")
        notify.wait("WATCHDOG=1")
        # Signals go to reclaimd itself, strace's child.
        pid = int(open("/proc/%d/task/%d/children" %
                       (d.proc.pid, d.proc.pid)).read().split()[0])
        os.kill(pid, signal.SIGHUP)
        notify.wait("RELOADING=1")
        os.kill(pid, signal.SIGTERM)
        check(d.proc.wait(timeout=30) == 0, "strace/reclaimd exit status")
        with open(trace) as f:
            text = f.read()
    calls = set()
    for line in text.splitlines():
        m = re.match(r"\s*([a-z_0-9]+)\s+\d+\s*$", line)
        if m and m.group(1) != "total":
            calls.add(m.group(1))
    check(len(calls) > 20, "strace saw only %r" % sorted(calls))
    print("system calls: " + " ".join(sorted(calls)))
    return calls


def main():
    if not os.path.exists(os.path.join(UNITS, "reclaimd.service")):
        fail("no configured units in " + UNITS)
    svc, sock = unit("reclaimd.service"), unit("reclaimd.socket")
    check_directives(svc, sock)
    if shutil.which("systemd-analyze") is None:
        skip("systemd-analyze is not installed")
    level = exposure()
    print("exposure %.1f" % level)
    check(level <= MAX_EXPOSURE, "reclaimd.service exposure %.1f > %.1f" %
          (level, MAX_EXPOSURE))
    if shutil.which("strace") is None:
        print("strace is not installed: system calls not checked")
    else:
        refused = traced_syscalls() - allowed_syscalls(svc)
        check(not refused, "SystemCallFilter= refuses system calls reclaimd "
              "makes: %s" % " ".join(sorted(refused)))
    print("ok")


main()
