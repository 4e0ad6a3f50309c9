"""reclaimd in a private cgroup namespace (unshare -C) whose memory
hierarchy was mounted outside it, as after `unshare -C` alone: mountinfo
shows the mount's root as "/..", and /proc/self/cgroup says "/". The
watchdog still finds its own cgroup's limit (it used to read the
hierarchy's root: no limit, so physical memory). A real memory cgroup,
v1 or v2, whichever holds the memory controller: needs root."""

import os
import shutil

from harness import RECLAIMD, Daemon, check, skip, wait_for

LIMIT = 200 << 20


def memory_parent():
    """(version, directory under which a memory cgroup can be made)."""
    with open("/proc/self/mountinfo") as f:
        mounts = [l.split(" - ") for l in f]
    for pre, post in mounts:
        fs, _, opts = post.split()[:3]
        mnt = pre.split()[4]
        if fs == "cgroup" and "memory" in opts.split(","):
            with open("/proc/self/cgroup") as f:
                for line in f:
                    _, ctl, path = line.rstrip("\n").split(":", 2)
                    if "memory" in ctl.split(","):
                        return 1, mnt + path.rstrip("/")
    for pre, post in mounts:
        if post.split()[0] == "cgroup2":
            return 2, pre.split()[4]
    return None, None


def main():
    if os.geteuid() != 0:
        skip("making a memory cgroup needs root")
    if shutil.which("unshare") is None:
        skip("no unshare(1)")
    version, parent = memory_parent()
    if version is None:
        skip("no memory cgroup hierarchy is mounted")
    cg = os.path.join(parent, "reclaim-test-ns-%d" % os.getpid())
    try:
        os.mkdir(cg)
        if version == 2:
            with open(os.path.join(parent, "cgroup.subtree_control"),
                      "w") as f:
                f.write("+memory")
        limit_file = "memory.limit_in_bytes" if version == 1 else "memory.max"
        with open(os.path.join(cg, limit_file), "w") as f:
            f.write(str(LIMIT))
    except OSError as e:
        skip("cannot make a memory cgroup under %s: %s" % (parent, e))
    try:
        with Daemon(start=False) as d:
            # Join the cgroup, then a cgroup namespace of our own there:
            # the hierarchy stays mounted from outside it.
            argv = ["/bin/sh", "-c",
                    'echo $$ > "$0/cgroup.procs" && exec unshare -C "$@"',
                    cg, RECLAIMD, "-c", d.conf]
            d.start(argv=argv)
            with open("/proc/%d/cgroup" % d.proc.pid) as f:
                own = f.read()
            w = d.ctl_json("watchdog")
            print("in the namespace /proc/self/cgroup reads %r; the "
                  "watchdog: limit %d from %s, cgroup %s" %
                  (own.strip(), w["limit_bytes"], w["limit_source"],
                   w["cgroup"]))
            check(w["limit_bytes"] == LIMIT,
                  "limit %d, want the cgroup's %d" % (w["limit_bytes"], LIMIT))
            check(w["limit_source"] == "cgroup-v%d" % version,
                  "limit source %s" % w["limit_source"])
            check(os.path.samefile(w["cgroup"], cg),
                  "watching %s, not %s" % (w["cgroup"], cg))
            check(d.stop() == 0, "reclaimd exit status")
    finally:
        wait_for(lambda: not _rmdir(cg), "the test cgroup to go")
    print("ok: the watchdog finds its own cgroup's limit inside unshare -C")


def _rmdir(cg):
    """Remove cg; True while it is still there."""
    try:
        os.rmdir(cg)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return False


if __name__ == "__main__":
    main()
