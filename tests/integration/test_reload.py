"""SIGHUP and `reclaimctl reload`: a good file is applied; a bad one keeps
the old configuration, says why, and the daemon keeps serving."""

import re
import signal

from harness import Daemon, check, wait_for


def thresholds(d):
    return d.ctl_json("stats")["heap"]["thresholds"]


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
        check(d.stop() == 0, "exit status")
    print("ok")


main()
