"""reclaimd's command line and configuration: --version, --help,
--check-config, the shipped conf/reclaimd.conf, errors naming file, line and
key with exit status 2, and -s overrides winning over the file."""

import os

from harness import Daemon, RECLAIMD, SRCDIR, check, run


def bad(args, want):
    rc, out, err = run([RECLAIMD] + args)
    check(rc == 2, "%r: rc %d, want 2 (%r)" % (args, rc, err))
    check(want in err, "%r: stderr %r lacks %r" % (args, err, want))
    check(len(err.strip().splitlines()) == 1, "%r: one line: %r" % (args, err))


def write(d, name, text):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def main():
    rc, out, _ = run([RECLAIMD, "--version"])
    check(rc == 0 and out.startswith("reclaimd "), "--version: %r" % out)
    rc, out, _ = run([RECLAIMD, "--help"])
    check(rc == 0 and "--check-config" in out, "--help: %r" % out)
    rc, _, err = run([RECLAIMD, "--bogus"])
    check(rc == 2, "--bogus: rc %d" % rc)
    shipped = os.path.join(SRCDIR, "conf", "reclaimd.conf")
    rc, out, err = run([RECLAIMD, "-c", shipped, "--check-config"])
    check(rc == 0, "shipped conf: %r" % err)
    with Daemon(start=False) as d:
        # Every key of the shipped file, uncommented, is valid as written.
        text = open(shipped).read().replace("\n#", "\n")
        lines = [l for l in text.splitlines() if " = " in l or l.startswith("[")]
        keys = [l for l in lines if " = " in l]
        check(len(keys) >= 15, "shipped conf documents %d keys" % len(keys))
        f = write(d.dir, "all.conf", "\n".join(lines) + "\n")
        rc, _, err = run([RECLAIMD, "-c", f, "--check-config"])
        check(rc == 0, "uncommented shipped conf: %r" % err)

        f = write(d.dir, "a.conf", "[http]\nworkers = 2\n\n[heap]\n"
                  "thresholds = 700,10\n")
        bad(["-c", f], f + ":5: heap.thresholds")
        f = write(d.dir, "b.conf", "[heap]\nno_such_key = 1\n")
        bad(["-c", f], f + ":2: heap.no_such_key: unknown key")
        f = write(d.dir, "c.conf", "[watchdog]\nsoft = 99%\nhard = 90%\n")
        bad(["-c", f], f + ":3: watchdog.hard")
        f = write(d.dir, "d.conf", "[http]\nthis line has no equals sign\n")
        bad(["-c", f], f + ":2:")
        f = write(d.dir, "e.conf", "[control]\nidle_timeout = soon\n")
        bad(["-c", f], f + ":2: control.idle_timeout")
        bad(["-c", os.path.join(d.dir, "missing.conf")], "missing.conf")
        bad(["-s", "http.workers=zero"], "-s http.workers")
        bad(["-s", "nonsense"], "expected section.key=value")
        bad(["-s", "http.listen=nowhere"], "http.listen")
        bad(["-s", "log.level=chatty"], "log.level")
        bad(["-s", "watchdog.limit=lots"], "watchdog.limit")
        bad(["-s", "watchdog.cgroup=relative/dir"], "watchdog.cgroup")

        # -s wins over the file.
        d.write_conf(workers=1)
        d.args = ["-s", "http.workers=3", "-s", "heap.thresholds=500,5,5"]
        d.start()
        s = d.ctl_json("stats")
        check(len(s["workers"]) == 3, "-s http.workers=3: %d workers" %
              len(s["workers"]))
        check(s["heap"]["thresholds"] == [500, 5, 5], "-s heap.thresholds")
        log = d.read_log()
        check("<6>" in log and "ready" in log, "log prefixes: %r" % log)
        check(d.stop() == 0, "exit status")

    # watchdog.cgroup: watch the cgroup named (here a v2 tree in files, its
    # parent's memory.max the limit in force).
    with Daemon(start=False) as d:
        top = os.path.join(d.dir, "cg")
        child = os.path.join(top, "svc")
        os.makedirs(child)
        write(top, "memory.current", "0\n")
        write(top, "memory.stat", "anon 0\n")
        write(top, "memory.max", "67108864\n")
        for name, text in (("memory.current", "1048576\n"),
                           ("memory.stat", "inactive_file 0\n"),
                           ("memory.max", "max\n"), ("memory.high", "max\n")):
            write(child, name, text)
        d.args = ["-s", "watchdog.cgroup=" + child]
        d.start()
        w = d.ctl_json("watchdog")
        check(w["limit_bytes"] == 64 << 20, "watchdog.cgroup: limit %r" %
              w["limit_bytes"])
        check(w["limit_source"] == "cgroup-v2", "source %r" %
              w["limit_source"])
        check(w["cgroup"] == top, "cgroup %r" % w["cgroup"])
        check(d.stop() == 0, "exit status")
    print("ok")


main()
