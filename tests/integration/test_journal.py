"""The journal: with stderr on the journal's stream and $JOURNAL_STREAM
naming it (as systemd.exec(5) sets both for a unit), reclaimd logs through
the native protocol, with PRIORITY, SYSLOG_IDENTIFIER, CODE_* and, for the
events an operator searches for, a MESSAGE_ID and fields of their own; the
catalog's text shows beside them (journalctl -x). With the variable naming
another file, the "<N>" lines on stderr, as before.

A real systemd-journald receives, in a mount namespace of this test's own
(tmpfs over /run/systemd, /run/log, /var/log/journal and the catalog
database, the catalog directory a copy with systemd's files and ours);
systemd-cat connects reclaimd's stderr to its stream; journalctl reads. Root
only (mount namespaces), and skipped without systemd-journald or a reclaimd
built with libsystemd."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from harness import (Daemon, RECLAIMCTL, RECLAIMD, SRCDIR, check, run, skip,
                     wait_for)

JOURNALD = "/lib/systemd/systemd-journald"
JDIR = "/run/log/journal"
CATALOG = "/usr/lib/systemd/catalog"


def ids():
    """LOG_ID_* of daemon/reclaimd.h: name -> MESSAGE_ID."""
    with open(os.path.join(SRCDIR, "daemon/reclaimd.h")) as f:
        return dict(re.findall(r'#define LOG_ID_(\w+) "([0-9a-f]{32})"',
                               f.read()))


ID = ids()


def enter_namespace():
    """Run this script again in a mount namespace of its own."""
    if os.geteuid() != 0:
        skip("a private journald needs a mount namespace: root only")
    for tool in (JOURNALD, shutil.which("journalctl"),
                 shutil.which("systemd-cat"), shutil.which("unshare")):
        if not tool or not os.access(tool, os.X_OK):
            skip("needs systemd-journald, journalctl, systemd-cat, unshare")
    rc, out, _ = run(["ldd", RECLAIMD])
    if "libsystemd" not in out:
        skip("reclaimd is built without libsystemd (-Dsystemd=disabled)")
    env = dict(os.environ, RECLAIM_JOURNAL_NS="1")
    p = subprocess.run(["unshare", "-m", "--propagation", "private",
                        sys.executable] + sys.argv, env=env)
    sys.exit(p.returncode)


def private_journal(tmp):
    """Mounts that hide the host's journal, and journald on them."""
    cat = os.path.join(tmp, "catalog")
    os.makedirs(cat)
    for f in os.listdir(CATALOG) if os.path.isdir(CATALOG) else []:
        shutil.copy(os.path.join(CATALOG, f), cat)
    shutil.copy(os.path.join(SRCDIR, "systemd/reclaimd.catalog"), cat)
    for d in ("/run/systemd", "/run/log", "/var/log/journal",
              "/var/lib/systemd/catalog"):
        os.makedirs(d, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", d], check=True)
    os.makedirs(CATALOG, exist_ok=True)
    subprocess.run(["mount", "--bind", cat, CATALOG], check=True)
    os.makedirs("/run/systemd/journal")
    jd = subprocess.Popen([JOURNALD], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    wait_for(lambda: os.path.exists("/run/systemd/journal/stdout"),
             "systemd-journald's sockets")
    rc, out, err = run(["journalctl", "--update-catalog"])
    check(rc == 0, "journalctl --update-catalog: %s" % err)
    return jd


def journal(*match, extra=()):
    """The entries that match, as dicts (-o json)."""
    rc, out, err = run(["journalctl", "-D", JDIR, "-o", "json",
                        "--no-pager"] + list(extra) + list(match))
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def event(d, name, n=1):
    """Wait for n entries of event name from d; the last."""
    m = ["_PID=%d" % d.proc.pid, "MESSAGE_ID=" + ID[name]]
    return wait_for(lambda: len(journal(*m)) >= n and journal(*m)[-1],
                    "the %s event (MESSAGE_ID=%s) in the journal" %
                    (name, ID[name]))


def start_on_stream(d):
    """reclaimd with stderr on journald's stream, $JOURNAL_STREAM its
    device:inode, as systemd starts a unit."""
    sh = ('export JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2); '
          'exec "$0" "$@"')
    d.start(argv=["systemd-cat", "-t", "reclaimd", "sh", "-c", sh, RECLAIMD,
                  "-c", d.conf] + d.args)


def check_entry(e, d, prio, func):
    check(e.get("_TRANSPORT") == "journal",
          "not the native protocol: %r" % e)
    check(e.get("PRIORITY") == str(prio), "PRIORITY %r, want %d" %
          (e.get("PRIORITY"), prio))
    check(e.get("SYSLOG_IDENTIFIER") == "reclaimd", "SYSLOG_IDENTIFIER")
    check(e.get("CODE_FUNC") == func and e.get("CODE_FILE", "").endswith(
        ".c") and int(e.get("CODE_LINE", "0")) > 0,
        "CODE_FILE, CODE_LINE, CODE_FUNC: %r" % e)
    check(not e["MESSAGE"].startswith("<"), "a prefix left: %r" % e)


def test_events():
    with Daemon(start=False) as d:
        reports = os.path.join(d.dir, "reports")
        conf = "[forensics]\nreport_dir = %s\nreport_interval = 1h\n" % (
            reports)
        d.write_conf(conf)
        start_on_stream(d)
        pid = d.proc.pid
        # a good reload, then a bad one
        d.write_conf(conf + "[heap]\nthresholds = 900,10,10\n")
        rc, _, err = d.ctl("reload")
        check(rc == 0, "reload: %s" % err)
        e = event(d, "RELOAD")
        check_entry(e, d, 6, "server_reload")
        check(e.get("CONFIG_FILE") == d.conf, "CONFIG_FILE %r" %
              e.get("CONFIG_FILE"))
        d.write_conf(conf + "[heap]\nthresholds = 5,5\n")
        d.send(signal.SIGHUP)
        e = event(d, "RELOAD_REFUSED")
        check_entry(e, d, 3, "server_reload")
        check("heap.thresholds" in e.get("ERROR", ""), "ERROR %r" %
              e.get("ERROR"))
        # a limit below RSS: critical, shedding, a report; then room again
        d.write_conf(conf + "[watchdog]\nlimit = 2MiB\n")
        d.send(signal.SIGHUP)
        e = event(d, "SHED_BEGIN")
        check_entry(e, d, 4, "memwatch_shed")
        check(e.get("LEVEL") == "shedding" and
              e.get("LIMIT_BYTES") == str(2 << 20) and
              int(e.get("USAGE_BYTES", "0")) > 2 << 20,
              "shedding's fields: %r" % e)
        lv = event(d, "LEVEL")
        check(lv.get("PREVIOUS_LEVEL") and lv.get("LEVEL"),
              "the level's fields: %r" % lv)
        r = event(d, "REPORT")
        check_entry(r, d, 4, "report_log")
        path = r.get("REPORT_PATH", "")
        check(path.startswith(reports + "/near-limit-") and
              os.path.exists(path) and path in r["MESSAGE"],
              "REPORT_PATH %r (reports: %s)" % (path, os.listdir(reports)))
        d.write_conf(conf + "[watchdog]\nlimit = 64GiB\n")
        d.send(signal.SIGHUP)
        e = event(d, "SHED_END")
        check(e.get("LEVEL") != "shedding", "shedding ended at %r" %
              e.get("LEVEL"))
        wait_for(lambda: any(x.get("LEVEL") == "normal" for x in journal(
            "_PID=%d" % pid, "MESSAGE_ID=" + ID["LEVEL"])),
            "the level back to normal")
        # every line native, those without an event too
        every = journal("_PID=%d" % pid)
        stdout = [x["MESSAGE"] for x in every
                  if x.get("_TRANSPORT") != "journal"]
        check(not stdout, "lines not sent natively: %r" % stdout)
        check(any(x["MESSAGE"].startswith("ready: ") and
                  "MESSAGE_ID" not in x for x in every), "no ready line")
        print("%d entries from reclaimd, all native; events: %s" % (
            len(every), sorted({k for k, v in ID.items() for x in every
                                if x.get("MESSAGE_ID") == v})))
        # the catalog beside them
        rc, out, err = run(["journalctl", "-D", JDIR, "-x", "--no-pager",
                            "_PID=%d" % pid, "MESSAGE_ID=" + ID["REPORT"]])
        check("Subject: reclaimd wrote a near-limit report to " + path in out,
              "journalctl -x lacks the catalog's text: %s %s" % (out, err))
        check(d.stop() == 0, "exit status")
        check(d.read_log() == "", "stderr used: %r" % d.read_log())


def test_leak():
    """Survivors that keep rising (test_forensics's churn keeping every
    graph, for 8 s): the leak event names the type in SUSPECT_TYPES. Then
    a task whose caller hangs up: its line has WORKER."""
    with Daemon(workers=1, start=False) as d:
        start_on_stream(d)
        churn = subprocess.Popen(
            [RECLAIMCTL, "-S", d.sock, "run", "churn", "duration_ms=8000",
             "rate=300", "size=10", "payload=4096", "keep=1000000",
             "cycles=0"], stdout=subprocess.DEVNULL)
        try:
            end = time.monotonic() + 15
            m = ["_PID=%d" % d.proc.pid, "MESSAGE_ID=" + ID["LEAK"]]
            while not journal(*m):
                check(time.monotonic() < end, "no leak event in 15 s")
                d.ctl("collect")  # a full collection: a new floor
                time.sleep(1.2)
        finally:
            churn.wait(timeout=30)
        e = journal(*m)[-1]
        check_entry(e, d, 4, "memwatch_leak")
        check("ChurnNode" in e.get("SUSPECT_TYPES", "") and
              int(e["SURVIVOR_LAST_BYTES"]) > int(e["SURVIVOR_FIRST_BYTES"])
              and int(e["COLLECTIONS"]) > 0, "the leak's fields: %r" % e)
        # a line about one worker carries WORKER: a task whose caller hangs up
        run_ = subprocess.Popen([RECLAIMCTL, "-S", d.sock, "run", "churn",
                                 "duration_ms=20000"],
                                stdout=subprocess.DEVNULL)
        wait_for(lambda: d.ctl_json("stats")["tasks"]["running"] > 0,
                 "the task to run")
        run_.kill()
        run_.wait()
        e = wait_for(lambda: [x for x in journal("_PID=%d" % d.proc.pid)
                              if "cancelled: the caller hung up" in
                              x["MESSAGE"]], "the cancelled task's line")[-1]
        check(e.get("WORKER") == "0" and e.get("PRIORITY") == "6",
              "the cancelled task's entry: %r" % e)
        check(d.stop() == 0, "exit status")


def test_other_stream():
    """$JOURNAL_STREAM naming another file than stderr (a unit's child
    whose stderr was redirected): "<N>" lines on stderr, nothing native."""
    st = os.stat("/dev/null")
    with Daemon(env={"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)}) \
            as d:
        d.ctl("reload")
        wait_for(lambda: "<6>configuration reloaded\n" in d.read_log(),
                 "the reload on stderr")
        pid = d.proc.pid
        check(d.stop() == 0, "exit status")
        check(journal("_PID=%d" % pid) == [],
              "entries in the journal from a daemon whose stderr is a file")


def main():
    if os.environ.get("RECLAIM_JOURNAL_NS") != "1":
        enter_namespace()
    tmp = tempfile.mkdtemp(prefix="reclaim-journal-")
    jd = private_journal(tmp)
    try:
        test_events()
        test_leak()
        test_other_stream()
    finally:
        jd.terminate()
        jd.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok")


main()
