"""Real memory cgroups for the integration tests (as root): find where to
make one (cgroup v1's memory hierarchy, else cgroup2 with the memory
controller), make one with a limit and no swap, start a program in it, and
read its OOM kills. Tests skip, saying why, when none can be made."""

import os
import shutil
import time

from harness import skip


def _mounts():
    """(fstype, root, mount point, super options) for each mount."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            fields = left.split()
            rfields = right.split()
            out.append((rfields[0], fields[3], fields[4], rfields[2]))
    return out


def _own_path(controller):
    """This process's path in a v1 hierarchy holding controller, or v2's."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctl, path = line.rstrip("\n").split(":", 2)
            if (controller and controller in ctl.split(",")) or \
                    (not controller and ctl == ""):
                return path
    return None


def find_parent():
    """(version, mount point, directory to make test cgroups in), or
    skip."""
    if os.geteuid() != 0:
        skip("creating a memory cgroup needs root")
    for fs, root, mnt, opts in _mounts():
        if fs == "cgroup" and "memory" in opts.split(","):
            rel = _own_path("memory") or "/"
            if root != "/" and rel.startswith(root):
                rel = rel[len(root):]
            return 1, mnt, mnt + rel.rstrip("/")
    for fs, root, mnt, opts in _mounts():
        if fs == "cgroup2":
            try:
                with open(os.path.join(mnt, "cgroup.controllers")) as f:
                    if "memory" not in f.read().split():
                        break
            except OSError:
                break
            try:
                with open(os.path.join(mnt, "cgroup.subtree_control"),
                          "w") as f:
                    f.write("+memory")
            except OSError:
                pass
            return 2, mnt, mnt
    skip("no memory cgroup hierarchy (v1 or v2) is mounted")


class Cgroup:
    """A memory cgroup of our own under the parent (made with its parents
    when path has several parts), with a limit on the top or on
    limit_at (a part of path) and no swap; removed at exit."""

    def __init__(self, path, limit=None, limit_at=None):
        self.version, self.mount, parent = find_parent()
        self.top = os.path.join(parent, path.split("/")[0])
        self.dir = os.path.join(parent, path)
        try:
            os.makedirs(self.dir)
        except OSError as e:
            skip("cannot create a memory cgroup under %s: %s" % (parent, e))
        if self.version == 2:
            d = self.top
            for part in os.path.relpath(self.dir, self.top).split("/"):
                self._write(d, "cgroup.subtree_control", "+memory",
                            must=False)
                d = os.path.join(d, part)
        if limit is not None:
            self.set_limit(limit, os.path.join(parent, limit_at or path))

    @staticmethod
    def _write(d, name, value, must=True):
        try:
            with open(os.path.join(d, name), "w") as f:
                f.write(str(value))
        except OSError:
            if must:
                raise

    def set_limit(self, limit, where=None):
        where = where or self.dir
        if self.version == 1:
            self._write(where, "memory.limit_in_bytes", limit)
            self._write(where, "memory.memsw.limit_in_bytes", limit,
                        must=False)
            self._write(where, "memory.swappiness", 0, must=False)
        else:
            self._write(where, "memory.max", limit)
            self._write(where, "memory.swap.max", 0, must=False)

    def argv(self, argv):
        """argv, run inside this cgroup (the shell joins it, then execs)."""
        return ["/bin/sh", "-c", 'echo $$ >"$0/cgroup.procs" && exec "$@"',
                self.dir] + list(argv)

    def oom_kills(self):
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        with open(os.path.join(self.dir, name)) as f:
            for line in f:
                k, v = line.split()
                if k == "oom_kill":
                    return int(v)
        return None

    def max_usage(self):
        """The most the cgroup ever used (v1), or its peak (v2 6.8+);
        None where the kernel keeps neither."""
        for name in ("memory.max_usage_in_bytes", "memory.peak"):
            try:
                with open(os.path.join(self.dir, name)) as f:
                    return int(f.read())
            except OSError:
                pass
        return None

    def remove(self):
        """rmdir the tree once its processes are gone."""
        for _ in range(100):
            try:
                for d, _, _ in sorted(os.walk(self.top), reverse=True,
                                      key=lambda t: len(t[0])):
                    os.rmdir(d)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.05)
        print("warning: could not remove %s" % self.top)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def which(name):
    """The path of a program, or skip."""
    p = shutil.which(name)
    if p is None:
        skip("%s is not installed" % name)
    return p
