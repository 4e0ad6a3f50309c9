"""reclaimd's command line and configuration: --version, --help,
--check-config, the shipped conf/reclaimd.conf, errors naming file, line and
key with exit status 2, and -s overrides winning over the file. Issue 14:
only a regular file of at most 1 MiB is read (/dev/zero, a FIFO and a
directory are refused, at start and on reload, and the daemon keeps
serving); lines inih would take silently (too long, a NUL, indented, ':')
are errors; one strict size grammar for every size key; a numeric
control.group must exist; a cross-key error names the keys it involves."""

import os
import signal

from harness import Daemon, RECLAIMD, SRCDIR, check, run, wait_for


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


def files_refused(d):
    """Only a regular file, at most 1 MiB: /dev/zero grew the daemon
    without bound, a FIFO blocked it, a directory read as empty."""
    fifo = os.path.join(d.dir, "fifo")
    os.mkfifo(fifo)
    big = write(d.dir, "big.conf", "#" * (1 << 20) + "\n")
    for path, why in (("/dev/zero", "not a regular file"),
                      (fifo, "not a regular file"),
                      (d.dir, "a directory"),
                      (big, "larger than 1 MiB")):
        bad(["-c", path, "--check-config"], path + ": cannot read: " + why)
    rc, _, err = run([RECLAIMD, "-c", "/dev/null", "--check-config"])
    check(rc == 0, "-c /dev/null (the defaults alone): %r" % err)
    ok = write(d.dir, "ok.conf", ("#" * 63 + "\n") * ((1 << 20) // 64))
    rc, _, err = run([RECLAIMD, "-c", ok, "--check-config"])
    check(rc == 0, "a file of 1 MiB: %r" % err)


def reload_refused(d):
    """A reload from /dev/zero, a FIFO or a directory keeps the running
    configuration, says why, and the daemon keeps answering."""
    d.write_conf("[heap]\nthresholds = 900,9,9\n")
    d.start()
    real = d.conf + ".real"
    os.rename(d.conf, real)
    fifo = os.path.join(d.dir, "fifo")
    os.mkfifo(fifo)
    for target, why in (("/dev/zero", "not a regular file"),
                        (fifo, "not a regular file"),
                        (d.dir, "a directory")):
        os.symlink(target, d.conf)
        rc, _, err = d.ctl("reload")
        check(rc == 1 and d.conf + ": cannot read: " + why in err,
              "reload from %s: %r" % (target, err))
        n = d.read_log().count("keeping the old configuration")
        d.send(signal.SIGHUP)
        wait_for(lambda: d.read_log().count(
            "keeping the old configuration") > n,
            "SIGHUP from %s to be refused" % target)
        s = d.ctl_json("stats")
        check(s["heap"]["thresholds"] == [900, 9, 9],
              "reload from %s changed the thresholds: %r" %
              (target, s["heap"]["thresholds"]))
        os.unlink(d.conf)
    os.rename(real, d.conf)
    check(d.stop() == 0, "exit status")


def lines_refused(d):
    """What inih takes silently is an error naming file, line and key."""
    cases = (
        # padded past inih's line buffer, the rest was dropped unread
        ("[heap]\nyoung_bytes = 8MiB" + " " * 300 + "garbage\n",
         ":2: heap.young_bytes: the line is too long"),
        ("[heap]\nyoung_bytes = 8MiB\0garbage\n",
         ":2: heap.young_bytes: a NUL byte"),
        # a continuation line set young_bytes again, to 4MiB
        ("[heap]\nyoung_bytes = 8MiB\n  4MiB\n",
         ":3: heap.young_bytes: an indented line"),
        ("[heap]\n\tyoung_bytes = 8MiB\n",
         ":2: heap.young_bytes: an indented line"),
        # what inih's lskip() skips too (isspace): a CR, a form feed, a
        # vertical tab starting a line made it a continuation as well
        ("[heap]\nyoung_bytes = 8MiB\n\r4MiB\n",
         ":3: heap.young_bytes: an indented line"),
        ("[heap]\nyoung_bytes = 8MiB\n\f4MiB\n",
         ":3: heap.young_bytes: an indented line"),
        ("[heap]\n\vyoung_bytes: 8MiB\n",
         ":2: heap.young_bytes: an indented line"),
        ("[heap]\nyoung_bytes: 8MiB\n",
         ":2: heap.young_bytes: expected key = value"),
        # inih's own syntax errors named no key
        ("[http]\nthis line has no equals sign\n",
         ":2: http.this: expected key = value"),
        ("[http\nworkers = 2\n", ":1: [http: expected [section]"),
    )
    for i, (text, want) in enumerate(cases):
        f = os.path.join(d.dir, "line%d.conf" % i)
        with open(f, "w") as fp:
            fp.write(text)
        bad(["-c", f, "--check-config"], f + want)
    f = os.path.join(d.dir, "bom.conf")
    with open(f, "wb") as fp:  # a byte order mark is no indentation
        fp.write(b"\xef\xbb\xbf[http]\nworkers = 2 ; a comment\n")
    rc, _, err = run([RECLAIMD, "-c", f, "--check-config"])
    check(rc == 0, "a file with a byte order mark: %r" % err)
    f = write(d.dir, "group.conf", "[control]\ngroup = 4000000000\n")
    bad(["-c", f, "--check-config"],
        f + ":2: control.group: bad value \"4000000000\": no such group")


def sizes_refused(d):
    """One strict size grammar for every size key: what only watchdog.limit
    took (through strtod) is an error everywhere, naming file, line, key."""
    keys = (("heap", "young_bytes"), ("watchdog", "limit"),
            ("tasks", "max_bytes"), ("http", "max_body_bytes"),
            ("http", "max_header_bytes"), ("http", "max_request_line"))
    for sec, key in keys:
        for value in ("8MB", "0x10", "1e3", "8 MiB", "1.5G", "+8K", "-8K"):
            f = write(d.dir, "size.conf",
                      "[%s]\n# a comment\n%s = %s\n" % (sec, key, value))
            bad(["-c", f, "--check-config"],
                '%s:3: %s.%s: bad value "%s"' % (f, sec, key, value))
        f = write(d.dir, "size.conf", "[%s]\n%s = 8K\n" % (sec, key))
        rc, _, err = run([RECLAIMD, "-c", f, "--check-config"])
        check(rc == 0, "%s.%s = 8K: %r" % (sec, key, err))


def value_errors(d):
    """Issue 18: one grammar a kind of value (common/value.c). A bad value of
    each kind names file, line and key (and -s and key), then what the value
    is instead, in that kind's one sentence."""
    cases = (
        ("heap", "young_bytes", "8MB", "not a size: a whole number of bytes"),
        ("watchdog", "limit", "1.5G", "not a size: a whole number of bytes"),
        ("http", "max_body_bytes", "+8K", "not a size"),
        ("http", "max_body_bytes", "8", "out of range: expected a size"),
        ("tasks", "max_bytes", "8 MiB", "expected a percentage of the limit"),
        ("watchdog", "soft", "150%", "out of range: a percentage"),
        ("watchdog", "hysteresis", "lots", "not a percentage"),
        ("control", "idle_timeout", "5S", "not a duration: a whole number"),
        ("http", "retry_after", "1.5s", "not a duration"),
        ("http", "keepalive", "maybe", "not a boolean: true or false"),
        ("watchdog", "enabled", "2", "not a boolean"),
        ("heap", "thresholds", "700,10", "expected three counts"),
    )
    for sec, key, value, want in cases:
        f = write(d.dir, "value.conf",
                  "[%s]\n# a comment\n%s = %s\n" % (sec, key, value))
        bad(["-c", f, "--check-config"],
            '%s:3: %s.%s: bad value "%s": %s' % (f, sec, key, value, want))
        bad(["-s", "%s.%s=%s" % (sec, key, value), "--check-config"],
            '-s %s.%s: bad value "%s": %s' % (sec, key, value, want))
    # the same units everywhere: what one key of a kind takes, all do
    f = write(d.dir, "units.conf",
              "[heap]\nyoung_bytes = 2MiB\n[watchdog]\nlimit = 1g\n"
              "enabled = Off\nsoft = 0.8\n[http]\nkeepalive = YES\n"
              "max_body_bytes = 64k\nidle_timeout = 90000ms\n"
              "[tasks]\nmax_bytes = 16M\n")
    rc, _, err = run([RECLAIMD, "-c", f, "--check-config"])
    check(rc == 0, "units: %r" % err)


def cross_key(d):
    """A check across keys names the keys it involves, where each was set:
    it named watchdog.hysteresis (the last watchdog key set), or
    "watchdog.socket" after -s control.socket."""
    f = write(d.dir, "x.conf", "[watchdog]\nsoft = 99%\nhard = 90%\n")
    bad(["-c", f, "-s", "watchdog.hysteresis=1%", "--check-config"],
        f + ":3: watchdog.hard: watchdog.soft (99%) is above watchdog.hard "
        "(90%)")
    bad(["-c", f, "-s", "watchdog.hysteresis=1%", "--check-config"],
        "(watchdog.soft is set at %s:2)" % f)
    bad(["-c", f, "-s", "control.socket=" + d.sock, "--check-config"],
        f + ":3: watchdog.hard: ")
    bad(["-s", "watchdog.soft=96%", "-s", "control.socket=" + d.sock,
         "--check-config"],
        "-s watchdog.soft: watchdog.soft (96%) is above watchdog.hard (95%)")
    bad(["-s", "watchdog.soft=96%", "--check-config"],
        "(watchdog.hard is the default)")
    f = write(d.dir, "y.conf", "[watchdog]\nhysteresis = 85%\n")
    bad(["-c", f, "-s", "log.level=debug", "--check-config"],
        f + ":2: watchdog.hysteresis: watchdog.hysteresis (85%)")


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

    with Daemon(start=False) as d:
        files_refused(d)
        lines_refused(d)
        sizes_refused(d)
        value_errors(d)
        cross_key(d)
    with Daemon(start=False) as d:
        reload_refused(d)

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
