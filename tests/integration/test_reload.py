"""SIGHUP and `reclaimctl reload`: a good file is applied; a bad one keeps
the old configuration, says why, and the daemon keeps serving, also while
reloads and new connections come at once (the main thread replaces the
configuration that the workers must not read: under ThreadSanitizer a
worker reading it is a reported race)."""

import re
import signal
import subprocess

from harness import Daemon, check, wait_for


def thresholds(d):
    return d.ctl_json("stats")["heap"]["thresholds"]


def reload_under_load(d):
    """ab opens a new connection for each request (no -k), for 3 s, while
    reloads alternate two good files: every request answered, every
    reload applied."""
    ab = subprocess.Popen(["ab", "-q", "-t", "3", "-n", "1000000", "-c", "4",
                           "-s", "10",
                           "http://127.0.0.1:%d/" % d.http_port],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    n = 0
    while ab.poll() is None and n < 200:
        t = (11, 12, 13) if n % 2 else (21, 22, 23)
        d.write_conf("[heap]\nthresholds = %d,%d,%d\n" % t)
        rc, _, err = d.ctl("reload")
        check(rc == 0, "reload %d under load: %r" % (n, err))
        check(thresholds(d) == list(t), "reload %d not applied" % n)
        n += 1
    out, err = ab.communicate(timeout=120)
    check(ab.returncode == 0, "ab: %s" % err)
    failed = re.search(r"Failed requests:\s+(\d+)", out)
    done = re.search(r"Complete requests:\s+(\d+)", out)
    check(failed and failed.group(1) == "0", "ab failures: %s" % out)
    check(done and int(done.group(1)) > 0, "ab: %s" % out)
    # A reload takes milliseconds (tenths of a second under TSan): 3 s of
    # load that saw fewer than two means the load did not overlap them.
    check(n >= 2, "only %d reloads overlapped the load" % n)
    print("reload under load: %d reloads during %s connections" %
          (n, done.group(1)))


def main():
    with Daemon() as d:
        d.write_conf("[heap]\nthresholds = 1000,20,30\n")
        d.send(signal.SIGHUP)
        wait_for(lambda: thresholds(d) == [1000, 20, 30],
                 "SIGHUP to apply heap.thresholds")
        wait_for(lambda: "configuration reloaded" in d.read_log(),
                 "the reload to be logged")

        d.write_conf("[heap]\nthresholds = 5,5\n")
        d.send(signal.SIGHUP)
        wait_for(lambda: "keeping the old configuration" in d.read_log(),
                 "the failed reload to be logged")
        check(re.search(r"reclaimd.conf:\d+: heap.thresholds", d.read_log()),
              "reason without file:line: key: " + d.read_log())
        check(thresholds(d) == [1000, 20, 30], "bad file changed settings")

        rc, out, err = d.ctl("reload")
        check(rc == 1 and "io.reclaim.ConfigError" in err and
              "heap.thresholds" in err, "reload of a bad file: %r" % err)
        check(thresholds(d) == [1000, 20, 30], "bad reload changed settings")

        d.write_conf("[log]\nlevel = debug\n[heap]\nthresholds = 7,8,9\n")
        rc, out, err = d.ctl("reload")
        check(rc == 0, "reload of a good file: %r" % err)
        check(thresholds(d) == [7, 8, 9], "reload did not apply")
        check(d.proc.poll() is None, "reclaimd died")
        reload_under_load(d)
        check(d.stop() == 0, "exit status")
    print("ok")


main()
