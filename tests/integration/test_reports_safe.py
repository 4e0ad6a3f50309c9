#!/usr/bin/python3
"""The near-limit report's directory: nothing planted there is
followed, and a directory someone else could write is refused. Before, the
temporary file had a predictable name (.NAME.tmp) opened with O_TRUNC and
without O_NOFOLLOW: a link planted at that name made root's 0600 file hold
the report. A report is made by setting watchdog.limit just above the
daemon's RSS, as test_forensics.py does."""

import glob
import os
import signal
import time

from harness import Daemon, check, wait_for

SECRET = "root's secret\n"


def make_report(d, rdir):
    """Point report_dir at rdir, then bring the level to critical; the
    log's summary line once the report was handled."""
    conf = "[forensics]\nreport_dir = %s\nreport_interval = 1h\n" % rdir
    d.write_conf(conf)
    d.send(signal.SIGHUP)
    wait_for(lambda: "configuration reloaded" in d.read_log(), "reload")
    rss = d.ctl_json("stats")["process"]["rss_bytes"]
    d.write_conf(conf + "[watchdog]\nlimit = %d\nsoft = 90%%\nhard = 95%%\n"
                 % (rss + rss // 50))
    d.send(signal.SIGHUP)
    return wait_for(lambda: [ln for ln in d.read_log().splitlines()
                             if "near-limit report: usage" in ln],
                    "the near-limit report", timeout=15)[0]


def victim(d):
    path = os.path.join(d.dir, "victim")
    with open(path, "w") as f:
        f.write(SECRET)
    os.chmod(path, 0o600)
    return path


def test_links_not_followed():
    """Links at every name the old code would have used, temporary and
    final, for the next 30 s: the victim keeps its bytes, the report is a
    regular file, no temporary file is left."""
    with Daemon() as d:
        rdir = os.path.join(d.dir, "reports")
        os.mkdir(rdir, 0o755)
        target = victim(d)
        now = int(time.time())
        for t in range(now - 2, now + 30):
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))
            name = "near-limit-%s-%d-1.json" % (stamp, d.proc.pid)
            os.symlink(target, os.path.join(rdir, "." + name + ".tmp"))
            os.symlink(target, os.path.join(rdir, name))
        line = make_report(d, rdir)
        with open(target) as f:
            check(f.read() == SECRET, "the report went through a planted "
                  "link into the victim file")
        check("written to " + rdir in line, "no report written: " + line)
        path = line.split("written to ", 1)[1].strip()
        check(os.path.isfile(path) and not os.path.islink(path),
              "the report is not a regular file: %s" % path)
        left = [f for f in os.listdir(rdir)
                if not os.path.islink(os.path.join(rdir, f)) and
                f != os.path.basename(path)]
        check(not left, "temporary files left behind: %r" % left)
        check(d.stop() == 0, "exit status")


def test_unsafe_dir(mode, owner, why):
    """A directory others can write, or another user's: refused (said at
    start, and again when a report is due), nothing written there."""
    with Daemon() as d:
        rdir = os.path.join(d.dir, "reports")
        os.mkdir(rdir)
        os.chmod(rdir, mode)
        os.chown(rdir, owner, -1)
        line = make_report(d, rdir)
        check("not written to a file" in line, "written: " + line)
        log = d.read_log()
        check("near-limit report: not written to %s: %s" % (rdir, why)
              in log, "the log does not say why:\n" + log)
        check(not glob.glob(os.path.join(rdir, "*")) and
              not glob.glob(os.path.join(rdir, ".*")),
              "files written to %s: %r" % (rdir, os.listdir(rdir)))
        d.stop()
        # Started with it configured: said at once.
        d.write_conf("[forensics]\nreport_dir = %s\n" % rdir)
        d.start()
        check("near-limit reports will not be written to %s: %s" %
              (rdir, why) in d.read_log(), "no warning at start")
        check(d.stop() == 0, "exit status")


def test_unsafe_path(kind, why):
    """What leads to the directory is checked too, as written and resolved:
    a link another user planted in a sticky directory like /tmp (pointing
    at a directory of root's, which passed the directory's own check), or
    a directory above it that others can write (they could put another in
    its place). Refused, nothing written at the link's target."""
    with Daemon() as d:
        target = os.path.join(d.dir, "roots")
        os.mkdir(target, 0o755)
        if kind == "link":
            shared = os.path.join(d.dir, "shared")
            os.mkdir(shared)
            os.chmod(shared, 0o1777)
            rdir = os.path.join(shared, "reports")
            os.symlink(target, rdir)
            os.lchown(rdir, 65534, 65534)
        else:
            above = os.path.join(d.dir, "open")
            os.mkdir(above)
            os.chmod(above, 0o777)
            rdir = os.path.join(above, "reports")
            os.mkdir(rdir, 0o755)
            target = rdir
        line = make_report(d, rdir)
        check("not written to a file" in line, "written: " + line)
        log = d.read_log()
        check("near-limit report: not written to %s: %s" % (rdir, why)
              in log, "the log does not say why:\n" + log)
        check(not os.listdir(target), "files written to %s: %r" %
              (target, os.listdir(target)))
        check(d.stop() == 0, "exit status")


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root to chown a directory to another user")
        raise SystemExit(77)
    test_links_not_followed()
    test_unsafe_dir(0o777, 0, "writable by its group or by others")
    test_unsafe_dir(0o1777, 0, "writable by its group or by others")
    test_unsafe_dir(0o775, 0, "writable by its group or by others")
    test_unsafe_dir(0o755, 65534, "owned by another user")
    test_unsafe_path("link", "a component is another user's")
    test_unsafe_path("above", "a directory above it is writable by others")
    print("ok")


if __name__ == "__main__":
    main()
