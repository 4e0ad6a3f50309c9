#!/usr/bin/python3
"""Reading is harmless: a peer under another uid cannot empty
the garbage report root is about to read, nor replace root's snapshot, and
its refused calls are logged at a bounded rate. Clients run under uid 65534
(subprocess's user=, or os.setuid in a forked child for raw varlink)."""

import json
import os
import socket
import time

from harness import RECLAIMCTL, Daemon, check, http_get, run, skip

NOBODY = 65534
OTHER = 65533
N = 3
# daemon/reclaimd.h: LOG_LIMIT_BURST lines per LOG_LIMIT_INTERVAL_US.
BURST, INTERVAL_S = 10, 10.0


def ctl_as(d, uid, *args):
    return run([RECLAIMCTL, "-S", d.sock, "--json"] + list(args), user=uid,
               group=NOBODY, extra_groups=[])


def ctl_json_as(d, uid, *args):
    rc, out, err = ctl_as(d, uid, *args)
    check(rc == 0, "uid %d: %s: rc %d %r" % (uid, args, rc, err))
    return json.loads(out)


def leaky(d, n=N):
    for _ in range(n):
        code, _ = http_get(d.http_port, "/seed/leaky?mb=1")
        check(code == 200, "GET /seed/leaky: %d" % code)


def test_snapshot(d):
    """root's snapshot, three leaky requests kept alive (no collection),
    then nobody's snapshot: root's Diff still shows +3 Runner and Task."""
    d.ctl_json("snapshot")
    leaky(d)
    ctl_json_as(d, NOBODY, "snapshot")
    diff = {t["type"]: t for t in d.ctl_json("diff")["types"]}
    for name in ("Runner", "Task"):
        check(name in diff and diff[name]["objects_delta"] == N,
              "root's diff after nobody's snapshot: %r" % diff)
    mine = ctl_json_as(d, NOBODY, "diff")["types"]
    check(not [t for t in mine if t["type"] in ("Runner", "Task")],
          "nobody's diff counts what rose before its snapshot: %r" % mine)
    rc, _, err = ctl_as(d, OTHER, "diff")
    check(rc == 1 and "io.reclaim.NoSnapshot" in err,
          "uid %d has no snapshot of its own: rc %d %r" % (OTHER, rc, err))


def test_garbage(d):
    """nobody reads the report first: root's read still has it all, and
    root's read empties it."""
    check(d.ctl("debug", "leak", "on")[0] == 0, "debug leak on")
    check(d.ctl("collect")[0] == 0, "collect")  # test_snapshot's cycles
    d.ctl_json("garbage")  # start from an empty report
    leaky(d)
    check(d.ctl("collect")[0] == 0, "collect")
    for who in (NOBODY, 0):
        g = ctl_json_as(d, who, "garbage")
        types = {t["type"]: t["count"] for t in g["types"]}
        check(types.get("Runner") == N and types.get("Task") == N,
              "uid %d's garbage: %r" % (who, g))
    g = d.ctl_json("garbage")
    check(not g["types"], "root's read did not empty the report: %r" % g)


def refuse_many(path, n):
    """In a forked child as nobody: n pipelined Collect calls, every
    answer read; exit 0 if each was PermissionDenied."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(60)
            s.connect(path)
            s.sendall(b'{"method":"io.reclaim.Collect"}\0' * n)
            buf, got = b"", 0
            while got < n:
                data = s.recv(65536)
                if not data:
                    break
                buf += data
                msgs = buf.split(b"\0")
                buf = msgs.pop()
                got += sum(b"PermissionDenied" in m for m in msgs)
            code = 0 if got == n else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_refused_rate(d):
    """5,000 refused calls log at most the burst per interval (before:
    5,000 lines in 0.41 s); root is still served."""
    n = 5000
    t0 = time.monotonic()
    rc = refuse_many(d.sock, n)
    took = time.monotonic() - t0
    check(rc == 0, "the child's %d refused calls: exit %d" % (n, rc))
    lines = [ln for ln in d.read_log().splitlines()
             if "control: refused io.reclaim.Collect" in ln]
    # Every interval begun while the calls ran may hold a burst.
    allowed = BURST * (int(took // INTERVAL_S) + 1)
    check(1 <= len(lines) <= allowed, "%d refused calls in %.2f s logged "
          "%d lines, at most %d allowed" % (n, took, len(lines), allowed))
    print("%d refused calls in %.2f s: %d log lines" % (n, took, len(lines)))
    check(d.ctl("stats")[0] == 0, "root is still served")


def main():
    if os.geteuid() != 0:
        skip("needs root to run clients under another uid")
    with Daemon("[control]\nmode = 0666\n[heap]\nthresholds = 0,0,0\n"
                "young_bytes = 0\n[watchdog]\nenabled = false\n",
                workers=1) as d:
        test_snapshot(d)
        test_garbage(d)
        test_refused_rate(d)
        check(d.stop() == 0, "exit status")
    print("ok")


if __name__ == "__main__":
    main()
