"""Issue 16, part 4: long work shows progress. RunTask with varlink's
"more": true streams the task's progress reports (replies marked
"continues") before its one final answer; without "more", and for a task
that reports nothing, there is only the answer, as before. reclaimctl run
draws a progress line on a terminal, prints the result alone when piped, and
one JSON object a line for each reply with --json.

Bounds: churn reports at most once each 250 ms (RCL_PROGRESS_EVERY_MS), the
first report at its first step; a 2-second run steps every 10 ms, so it
makes at least 2 reports however slow the machine is, unless a single step
took over 1.7 s. Nothing here measures speed."""

import json
import os
import shutil
import subprocess

from harness import RECLAIMCTL, Daemon, check

WAITS = os.path.join(os.environ.get("TEST_PLUGIN_DIR", ""), "plugin-waits.so")
CHURN = {"task": "churn", "args": {"duration_ms": "2000", "rate": "500"}}


def replies(v):
    """Every reply to the call just sent, up to the one that does not
    continue."""
    out = []
    while True:
        r = v.recv()
        check(r is not None, "connection closed after %r" % out)
        out.append(r)
        if not r.get("continues"):
            return out


def check_stream(rs, task):
    """Progress replies, then the answer: the shape the IDL declares."""
    check(len(rs) >= 3, "want >= 2 progress replies and the answer: %r" % rs)
    last = rs[-1]
    check("error" not in last and "continues" not in last,
          "the last reply: %r" % last)
    check(set(last["parameters"]) == {"task", "worker", "result"},
          "the answer's keys: %r" % last)
    prev = -1.0
    for r in rs[:-1]:
        check(r.get("continues") is True and "error" not in r, repr(r))
        p = r["parameters"]
        check(set(p) == {"task", "worker", "progress"} and p["task"] == task
              and p["worker"] == last["parameters"]["worker"],
              "a progress reply: %r" % r)
        f = p["progress"]["fraction"]
        check(prev <= f <= 1, "fraction %r after %r" % (f, prev))
        prev = f
        check(isinstance(p["progress"]["phase"], str) and
              isinstance(p["progress"]["figures"], dict), repr(p))
    return rs


def test_raw(d):
    """Over the raw socket: churn and tree stream; without "more", one
    reply; then the connection carries on (pipelined call after)."""
    v = d.varlink()
    v.send("io.reclaim.RunTask", CHURN, more=True)
    rs = check_stream(replies(v), "churn")
    check(rs[-1]["parameters"]["result"]["elapsed_ms"] >= 2000, repr(rs[-1]))
    graphs = [r["parameters"]["progress"]["figures"]["graphs"]
              for r in rs[:-1]]
    check(graphs == sorted(graphs), "graphs so far go up: %r" % graphs)
    print("churn 2 s: %d progress replies, then the answer" % (len(rs) - 1))

    v.send("io.reclaim.RunTask", CHURN)  # no "more": the answer only
    v.send("io.reclaim.Stats")            # pipelined behind it
    rs = [v.recv(), v.recv()]
    check("continues" not in rs[0] and "result" in rs[0]["parameters"],
          "without more: %r" % rs[0])
    check("heap" in rs[1]["parameters"], "the call after: %r" % rs[1])

    v.send("io.reclaim.RunTask", {"task": "tree", "args": {"rounds": "1"}},
           more=True)
    rs = replies(v)  # one round: the answer, and perhaps one report
    check("result" in rs[-1]["parameters"], repr(rs[-1]))
    v.close()


def test_silent(d):
    """A task that reports nothing answers once, even with "more"."""
    if not os.path.exists(WAITS):
        print("SKIP part: plugin-waits.so not built (TEST_PLUGIN_DIR)")
        return
    v = d.varlink()
    v.send("io.reclaim.RunTask", {"task": "test-sleep",
                                  "args": {"ms": "600"}}, more=True)
    rs = replies(v)
    check(len(rs) == 1 and "result" in rs[0]["parameters"],
          "test-sleep with more: %r" % rs)
    v.close()


def test_ctl(d):
    """Piped: the result alone, as before; --json: one object a line."""
    rc, out, err = d.ctl("run", "churn", "duration_ms=1000", "rate=500")
    check(rc == 0 and err == "", "run churn: rc %d: %s" % (rc, err))
    keys = [line.split()[0] for line in out.splitlines()]
    check(keys == ["elapsed_ms", "graphs", "cyclic_graphs", "objects",
                   "payload_bytes", "collections", "collected",
                   "pause_max_ns", "heap_bytes"], "piped output: %r" % out)
    check("\r" not in out and "%" not in out, "no progress piped: %r" % out)

    rc, out, err = d.ctl("--json", "run", "churn", "duration_ms=2000",
                         "rate=500")
    check(rc == 0, "--json run churn: rc %d: %s" % (rc, err))
    lines = out.splitlines()
    objs = [json.loads(line) for line in lines]  # each line one object
    check(len(objs) >= 3 and all("progress" in o for o in objs[:-1]) and
          "result" in objs[-1], "--json lines: %r" % lines)
    print("--json: %d lines, one object each" % len(lines))


def test_terminal(d):
    """On a terminal (script(1) gives reclaimctl a pty): progress lines
    redrawn with \\r on stderr, erased before the result."""
    if shutil.which("script") is None:
        print("SKIP part: no script(1) (util-linux) for a pty")
        return
    cmd = "%s -S %s run churn duration_ms=1000 rate=500" % (RECLAIMCTL, d.sock)
    p = subprocess.run(["script", "-qec", cmd, "/dev/null"],
                       capture_output=True, timeout=60)
    out = p.stdout.decode()
    check(p.returncode == 0, "run on a pty: %r" % out)
    check(out.count("\rchurn ") >= 2 and "% churning" in out,
          "progress drawn: %r" % out)
    head, _, tail = out.rpartition("\r\x1b[K")
    check(tail.startswith("elapsed_ms"), "erased before the result: %r" % out)


def main():
    with Daemon(conf="[tasks]\nmodules = %s\n" % WAITS
                if os.path.exists(WAITS) else "") as d:
        test_raw(d)
        test_silent(d)
        test_ctl(d)
        test_terminal(d)
        check(d.stop() == 0, "exit status")
    print("ok")


if __name__ == "__main__":
    main()
