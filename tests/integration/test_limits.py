"""Every limit seen: reclaimd in real memory cgroups where the limit is
hard to find, asked with reclaimctl what it found.

- A cgroup at the end of a path of more than 400 characters (Kubernetes's
  pod and container scopes come near), the limit set two levels above it.
- The memory hierarchy mounted, in a mount namespace of its own, at a
  point whose name holds a space (mountinfo writes it "\\040") and whose
  mountinfo line is longer than 1,024 characters.
- A private cgroup namespace (unshare -C): /proc/self/cgroup says "/" and
  mountinfo's root starts with "/..", so the directory must be found.
- No limit up the hierarchy: a warning at start that says why, and the
  Watchdog reply's limit_reason.
As root, in cgroup v1 or v2 (skipped, saying why, otherwise)."""

import os
import subprocess
import tempfile

from cgroups import Cgroup, which
from harness import Daemon, check, fail, wait_for, RECLAIMD, skip

MiB = 1 << 20


def watchdog(d):
    return d.ctl_json("watchdog")


def sees(d, cg, limit, where):
    """The watchdog reports limit, from the cgroup, set on where."""
    w = watchdog(d)
    src = "cgroup-v%d" % cg.version
    check(w["limit_bytes"] == limit and w["limit_source"] == src,
          "limit %d from %s, expected %d from %s (%s)" %
          (w["limit_bytes"], w["limit_source"], limit, src,
           w.get("limit_reason")))
    check(where in w.get("limit_reason", ""),
          "limit_reason %r does not name %s" % (w.get("limit_reason"), where))
    return w


def test_long_path():
    """A cgroup path over 400 characters, a pod's and a container's scope
    as Kubernetes names them, the limit on the container; then on the pod,
    one level up, with a higher one on the container."""
    pod = "kubepods-burstable-pod" + "0123456789abcdef" * 8 + ".slice"
    ctr = "cri-containerd-" + "fedcba9876543210" * 14 + ".scope"
    path = "reclaim-long/%s/%s" % (pod, ctr)
    with Cgroup(path, limit=96 * MiB) as cg:
        check(len(cg.dir) > 400, "path of %d characters" % len(cg.dir))
        with Daemon(workers=1, start=False) as d:
            d.start(argv=cg.argv([RECLAIMD, "-c", d.conf]))
            w = sees(d, cg, 96 * MiB, ctr)
            check(w["cgroup"] == cg.dir, "cgroup %r, expected %r" %
                  (w["cgroup"], cg.dir))
            cg.set_limit(80 * MiB, os.path.dirname(cg.dir))
            d.ctl("reload")  # the limit is re-read every 5 s, or now
            w = sees(d, cg, 80 * MiB, pod)
            check(w["cgroup"] == os.path.dirname(cg.dir),
                  "cgroup %r is not the limiting one" % w["cgroup"])
            d.stop()
    print("long path: %d characters, limit seen on the container, then "
          "on the pod" % len(cg.dir))


def test_escaped_mount():
    """The hierarchy mounted where mountinfo must escape a space, on a
    line longer than 1,024 characters."""
    unshare = which("unshare")
    with Cgroup("reclaim-mnt", limit=80 * MiB) as cg:
        base = tempfile.mkdtemp(prefix="rcl-mnt-")
        mnt = os.path.join(base, "a" * 250, "b" * 250, "c" * 250,
                           "cgroup with space " + "d" * 200)
        os.makedirs(mnt)
        rel = os.path.relpath(cg.dir, cg.mount)
        fs = ["-t", "cgroup", "-o", "memory", "cgroup"] if cg.version == 1 \
            else ["-t", "cgroup2", "cgroup2"]
        with Daemon(workers=1, start=False) as d:
            argv = [unshare, "-m", "--propagation", "private", "/bin/sh",
                    "-c", 'mount ' + " ".join(fs) + ' "$0" && umount -l "$1"'
                    ' && exec "$2" -c "$3"', mnt, cg.mount, RECLAIMD, d.conf]
            d.start(argv=cg.argv(argv))
            line = [l for l in open("/proc/%d/mountinfo" % d.proc.pid)
                    if "with\\040space" in l]
            check(line and len(line[0]) > 1024,
                  "mountinfo line: %r" % (line[0][:80] if line else None))
            w = sees(d, cg, 80 * MiB, "reclaim-mnt")
            check(w["cgroup"] == os.path.join(mnt, rel),
                  "cgroup %r, expected %r" % (w["cgroup"],
                                               os.path.join(mnt, rel)))
            d.stop()
        subprocess.run(["rm", "-rf", base])
    print("escaped mount point: mountinfo line of %d characters, limit seen"
          % len(line[0]))


def test_namespace():
    """A private cgroup namespace: the directory is found by its
    cgroup.procs."""
    unshare = which("unshare")
    with Cgroup("reclaim-ns/inner", limit=72 * MiB) as cg:
        with Daemon(workers=1, start=False) as d:
            d.start(argv=cg.argv([unshare, "-C", RECLAIMD, "-c", d.conf]))
            with open("/proc/%d/cgroup" % d.proc.pid) as f:
                own = f.read()
            check(":/\n" in own, "not in a namespace of its own: %r" % own)
            w = sees(d, cg, 72 * MiB, "reclaim-ns")
            check(w["cgroup"] == cg.dir, "cgroup %r, expected %r" %
                  (w["cgroup"], cg.dir))
            d.stop()
    print("cgroup namespace: found %s" % cg.dir)


def test_no_limit():
    """No limit up the hierarchy: said loudly, with the reason."""
    with Cgroup("reclaim-nolimit") as cg:
        with Daemon(workers=1, start=False) as d:
            d.start(argv=cg.argv([RECLAIMD, "-c", d.conf]))
            w = watchdog(d)
            log = d.read_log()
            d.stop()
    if w["limit_source"].startswith("cgroup"):
        skip("a limit above the test's own cgroup binds (%s): cannot show "
             "a cgroup without one" % w["limit_reason"])
    check(w["limit_source"] == "physical" and "no memory" in
          w["limit_reason"] and cg.dir in w["limit_reason"],
          "limit_reason %r" % w["limit_reason"])
    check("no memory limit found" in log and "set no memory limit" in log,
          "no warning at start: %s" % log)
    print("no limit: %s" % w["limit_reason"])


def main():
    test_long_path()
    test_escaped_mount()
    test_namespace()
    test_no_limit()
    print("ok")


if __name__ == "__main__":
    main()
