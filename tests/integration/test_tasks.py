#!/usr/bin/python3
"""Tasks with the real reclaimctl: tasks lists every kind, run tree answers
the write-up's object counts (3,918,600 over 20 rounds), run churn makes
cycles the collector finds (and none when cycles=0), bad arguments and
request tasks are errors, and a task in flight does not block the daemon.

RunTask's limits: past tasks.max_running a call is refused with
io.reclaim.TooManyTasks while the daemon serves everyone else (and a reload
changes the cap); a caller that hangs up has its task cancelled at its yield
point (a timer, a file descriptor, another task: each stopped, its state
released), by reclaimctl interrupted too; the tasks.* counters move with
all of it, in Stats and in Prometheus text."""

import json
import os
import signal
import socket
import subprocess
import time

from harness import (RECLAIMCTL, Daemon, Varlink, check, fail, http_get,
                     wait_for)

PLUGINS = os.environ.get("TEST_PLUGIN_DIR", "")
WAITS = os.path.join(PLUGINS, "plugin-waits.so")
COUNTERS = ("started_total", "finished_total", "failed_total",
            "cancelled_total", "running")

TREE = 2 * 9330  # objects in one Node.tree(depth=5, children=6)


def error(d, code, text, *args):
    rc, out, err = d.ctl(*args)
    check(rc == code, "reclaimctl %s: rc %d, expected %d: %s" %
          (" ".join(args), rc, code, err))
    check(text in err, "reclaimctl %s: %r lacks %r" %
          (" ".join(args), err, text))


def test_list(d):
    tasks = {t["name"]: t for t in d.ctl_json("tasks")["tasks"]}
    for name, kind in (("hello", "request"), ("seed-leaky", "request"),
                       ("seed-fixed", "request"), ("tree", "on-demand"),
                       ("churn", "on-demand")):
        check(name in tasks, "tasks lacks %s: %r" % (name, list(tasks)))
        check(tasks[name]["kind"] == kind, "%s: %r" % (name, tasks[name]))
        check(tasks[name]["origin"] == "built-in", "%r" % tasks[name])
    check(tasks["seed-leaky"]["route"] == "/seed/leaky", "route")
    rc, out, _ = d.ctl("tasks")
    check(rc == 0 and "seed-leaky" in out and "on-demand" in out, out)


def test_tree(d):
    r = d.ctl_json("run", "tree")
    check(r["task"] == "tree", "%r" % r)
    res = r["result"]
    check(res["collected"] == 3918600,
          "tree: %d objects found over 20 rounds, expected 3,918,600" %
          res["collected"])
    rounds = res["rounds"]
    check(len(rounds) == 20, "%d rounds" % len(rounds))
    for i, row in enumerate(rounds, 1):
        check(row["n"] == i and row["collected"] == i * TREE,
              "round %d: %r" % (i, row))
        check(row["ms"] >= 0, "round %d ms" % i)
    small = d.ctl_json("run", "tree", "depth=2", "children=3",
                       "rounds=2")["result"]
    check([x["collected"] for x in small["rounds"]] == [24, 48],
          "depth=2 children=3: %r" % small)
    rc, out, _ = d.ctl("run", "tree", "rounds=3")
    check(rc == 0 and "collected" in out and "111960" in out, out)
    check(any(l.split() == ["3", "55980"] + l.split()[2:3]
              for l in out.splitlines()), "no table row for round 3:\n" + out)


def test_churn(d):
    res = d.ctl_json("run", "churn", "duration_ms=400", "rate=2000",
                     "size=8", "cycles=1", "payload=256",
                     "keep=10")["result"]
    check(res["graphs"] >= 400 and res["cyclic_graphs"] == res["graphs"],
          "churn: %r" % res)
    check(res["collected"] > 0, "churn cycles=1 collected nothing: %r" % res)
    check(res["payload_bytes"] == res["graphs"] * 8 * 256, "%r" % res)
    d.ctl_json("collect")
    res = d.ctl_json("run", "churn", "duration_ms=200", "rate=1000",
                     "cycles=0")["result"]
    check(res["cyclic_graphs"] == 0 and res["collected"] == 0,
          "churn cycles=0: the collector found %d objects" % res["collected"])


def test_errors(d):
    error(d, 1, "InvalidParameter", "run", "tree", "depth=x")
    error(d, 1, "rounds must be", "run", "tree", "rounds=0")
    error(d, 1, "more than", "run", "tree", "depth=9", "children=9")
    error(d, 1, "cycles must be", "run", "churn", "cycles=2")
    error(d, 1, "io.reclaim.NoSuchTask", "run", "hello")
    error(d, 1, "io.reclaim.NoSuchTask", "run", "nope")


def test_async(d):
    """A long churn runs on a worker; the control socket still answers and
    GET / is still served meanwhile."""
    p = subprocess.Popen([RECLAIMCTL, "-S", d.sock, "--json", "run", "churn",
                          "duration_ms=1500", "rate=500"],
                         stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    t0 = time.monotonic()
    rc, _, err = d.ctl("stats")
    check(rc == 0 and time.monotonic() - t0 < 1, "stats during churn: %s" %
          err)
    out, _ = p.communicate(timeout=20)
    check(p.returncode == 0, "churn rc %d" % p.returncode)
    last = json.loads(out.splitlines()[-1])  # after the progress lines
    check(last["result"]["elapsed_ms"] >= 1500, out)


def sample_metric(text, series):
    """The value of one Prometheus series (no labels)."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[1])
    fail("no series %s in the Prometheus text" % series)


def tasks(d):
    """The tasks section of Stats, after checking that every run started is
    accounted for, in total and on each worker."""
    s = d.ctl_json("stats")
    for where, t in [("total", s["tasks"])] + [
            ("worker %d" % w["id"], w["tasks"]) for w in s["workers"]]:
        check(all(k in t for k in COUNTERS), "%s: tasks %r" % (where, t))
        check(t["started_total"] == t["finished_total"] + t["failed_total"] +
              t["cancelled_total"] + t["running"],
              "%s: started is not finished + failed + cancelled + running: "
              "%r" % (where, t))
    for k in COUNTERS:
        check(s["tasks"][k] == sum(w["tasks"][k] for w in s["workers"]),
              "tasks.%s is not the sum of the workers'" % k)
    return s["tasks"]


def test_counters(d):
    """Runs that end well, fail or are refused move their counters (the
    workers publish every 100 ms: poll)."""
    before = tasks(d)
    d.ctl_json("run", "tree", "depth=2", "children=2", "rounds=1")
    d.ctl_json("run", "tree", "depth=2", "children=2", "rounds=1")
    rc, _, _ = d.ctl("run", "tree", "rounds=0")
    check(rc == 1, "run tree rounds=0: rc %d" % rc)
    # A run already going before (running > 0) may end meanwhile: wait for
    # all three of these to be counted as started too (each worker
    # publishes on its own, so one snapshot can lag another).
    after = wait_for(lambda: (lambda t: t if t["finished_total"] >=
                              before["finished_total"] + 2 and
                              t["failed_total"] >= before["failed_total"] + 1
                              and t["started_total"] >=
                              before["started_total"] + 3
                              else None)(tasks(d)),
                     "tasks.finished_total +2, failed_total +1 and "
                     "started_total +3")
    check(after["started_total"] >= before["started_total"] + 3,
          "started: %r then %r" % (before, after))
    check(after["cancelled_total"] == before["cancelled_total"] and
          after["rejected_total"] == 0 and after["on_demand_running"] == 0,
          "nothing was cancelled or refused: %r" % after)
    check(after["max_running"] == 16, "tasks.max_running: %r" % after)
    rc, out, _ = d.ctl("stats")
    line = [l for l in out.splitlines() if l.startswith("tasks ")]
    check(rc == 0 and line and "(0 of 16 on demand)" in line[0] and
          "0 refused" in line[0] and "RUNNING" in out,
          "reclaimctl stats: %s" % out)


def call(path, task, **args):
    """Start RunTask on a connection of its own; the connection."""
    v = Varlink(path)
    v.send("io.reclaim.RunTask", {"task": task, "args": {
        k: str(x) for k, x in args.items()}})
    return v


def on_demand(d, n):
    return wait_for(lambda: (lambda t: t if t["on_demand_running"] == n
                             else None)(tasks(d)),
                    "%d on-demand tasks running" % n)


def test_cap():
    """At tasks.max_running, a call is refused (reclaimctl: exit 1, one
    line), counted, and the daemon serves everything else; a slot frees
    when its caller hangs up (the task is cancelled); a reload changes the
    cap."""
    with Daemon(workers=2, conf="[tasks]\nmax_running = 2\n") as d:
        held = [call(d.sock, "churn", duration_ms=30000, rate=20)
                for _ in range(2)]
        on_demand(d, 2)
        rc, out, err = d.ctl("run", "tree", "depth=2", "children=2")
        check(rc == 1 and "io.reclaim.TooManyTasks" in err and
              "tasks.max_running" in err and len(err.splitlines()) == 1,
              "over the cap: rc %d, %r" % (rc, err))
        v = d.varlink()
        r = v.call("io.reclaim.RunTask", {"task": "tree"})
        check(r.get("error") == "io.reclaim.TooManyTasks" and
              r["parameters"]["max_running"] == 2 and
              "reason" in r["parameters"], "raw call over the cap: %r" % r)
        check("error" not in v.call("io.reclaim.Tasks"),
              "the same connection is still served")
        v.close()
        check(http_get(d.http_port, "/")[0] == 200, "GET / over the cap")
        check(d.ctl("collect")[0] == 0, "collect over the cap")
        t = tasks(d)
        check(t["rejected_total"] == 2 and t["on_demand_running"] == 2,
              "after two refusals: %r" % t)
        _, text = http_get(d.metrics_port, "/metrics?format=prometheus")
        check(sample_metric(text, "reclaim_tasks_rejected_total") == 2 and
              sample_metric(text, "reclaim_tasks_on_demand_running") == 2,
              "Prometheus: rejected and on-demand running")
        # A caller that hangs up frees its slot once its task is cancelled.
        held[0].close()
        on_demand(d, 1)
        small = d.ctl_json("run", "tree", "depth=2", "children=2",
                           "rounds=1")
        check(small["task"] == "tree", "a call under the cap: %r" % small)
        # Reload: the cap is read on each call.
        d.write_conf("[tasks]\nmax_running = 1\n")
        check(d.ctl("reload")[0] == 0, "reload")
        check(d.ctl_json("stats")["tasks"]["max_running"] == 1,
              "max_running after reload")
        rc, _, err = d.ctl("run", "tree")
        check(rc == 1 and "TooManyTasks" in err, "cap 1 after reload: %r" %
              err)
        held[1].close()
        on_demand(d, 0)
        check(d.ctl_json("run", "tree", "depth=2", "children=2",
                         "rounds=1")["task"] == "tree", "under cap 1")
        check(tasks(d)["rejected_total"] == 3, "rejected_total")
        check(d.stop() == 0, "exit status")


def cancelled(d, n, what):
    return wait_for(lambda: (lambda t: t if t["cancelled_total"] >= n and
                             t["on_demand_running"] == 0 else None)(tasks(d)),
                    what, timeout=5)


def released(d):
    return d.ctl_json("run", "test-released")["result"]["released"]


def test_cancel():
    """A caller that hangs up has its task cancelled at once (well before
    its end), at each kind of yield point, with the task it waits for; each
    cancelled task's frame is released, nothing is left running, and the
    daemon keeps serving. reclaimctl interrupted hangs up too."""
    check(os.path.exists(WAITS), "no test plugin at %r" % WAITS)
    with Daemon(workers=2, conf="[tasks]\nmodules = %s\n" % WAITS) as d:
        n = tasks(d)["cancelled_total"]
        freed = released(d)
        # Waiting on a timer (a minute), on a file descriptor (no timeout),
        # and on another task (both are cancelled).
        for task, count in (("test-sleep", 1), ("test-fd", 1),
                            ("test-wait", 2)):
            v = call(d.sock, task)
            on_demand(d, 1)
            t0 = time.monotonic()
            v.close()
            t = cancelled(d, n + count, "%s to be cancelled" % task)
            check(time.monotonic() - t0 < 5, "%s cancelled late" % task)
            n += count
            check(t["cancelled_total"] == n, "%s: %d cancelled, want %d" %
                  (task, t["cancelled_total"], n))
            freed += count
            check(released(d) == freed, "%s: frames released %d, want %d" %
                  (task, released(d), freed))
        check("test-fd (worker" in d.read_log() and
              "cancelled: the caller hung up" in d.read_log(),
              "the cancellation is not logged")
        # The real client, interrupted as by Ctrl-C.
        p = subprocess.Popen([RECLAIMCTL, "-S", d.sock, "run", "churn",
                              "duration_ms=60000", "rate=20"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        on_demand(d, 1)
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=10)
        cancelled(d, n + 1, "churn to be cancelled after reclaimctl's SIGINT")
        wait_for(lambda: tasks(d)["running"] == 0, "no task left running")
        _, text = http_get(d.metrics_port, "/metrics?format=prometheus")
        check(sample_metric(text, "reclaim_tasks_cancelled_total") ==
              n + 1, "Prometheus: reclaim_tasks_cancelled_total")
        # A caller that only shuts down its sending side gets its answer.
        v = Varlink(d.sock)
        v.send("io.reclaim.RunTask", {"task": "test-sleep",
                                      "args": {"ms": "300"}})
        v.sock.shutdown(socket.SHUT_WR)
        r = v.recv()
        check(r is not None and r["parameters"]["task"] == "test-sleep",
              "half-closed caller: %r" % r)
        v.close()
        check(tasks(d)["cancelled_total"] == n + 1, "a half-close cancelled")
        check(d.ctl_json("run", "tree", "depth=2", "children=2",
                         "rounds=1")["task"] == "tree", "served after")
        check(d.stop() == 0, "exit status")


def http_running(d, n, what):
    return wait_for(lambda: (lambda t: t if t["running"] == n else None)(
        tasks(d)), what, timeout=5)


def slow_get(port, path):
    """Send GET path on a connection of its own; the socket."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: test\r\n\r\n" % path.encode())
    return s


def read_reply(s):
    """One reply on s (headers, then Content-Length bytes): status, body."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        check(chunk, "connection closed before a reply")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    n = [int(l.split(b":")[1]) for l in head.split(b"\r\n")
         if l.lower().startswith(b"content-length:")]
    while n and len(body) < n[0]:
        body += s.recv(65536)
    return int(head.split()[1]), body


def test_http_hangup():
    """An HTTP client that closes its connection before its reply has its
    request task cancelled at its yield point (with the task it waits for),
    its frame released, counted in tasks.cancelled_total, and nothing left
    running; with http.request_timeout off too (no tracked connections).
    A keep-alive client that waits gets its replies, nothing cancelled."""
    check(os.path.exists(WAITS), "no test plugin at %r" % WAITS)
    for extra in ("", "[http]\nrequest_timeout = 0\n"):
        conf = "[tasks]\nmodules = %s\n%s" % (WAITS, extra)
        with Daemon(workers=2, conf=conf) as d:
            base = http_running(d, 0, "no task running at start")
            n = base["cancelled_total"]
            freed = released(d)
            for path, count in (("/test/sleep", 1), ("/test/wait", 2)):
                s = slow_get(d.http_port, path)
                http_running(d, count, "GET %s to be running" % path)
                t0 = time.monotonic()
                s.close()
                t = wait_for(lambda: (lambda t: t if t["cancelled_total"] >=
                                      n + count and t["running"] == 0
                                      else None)(tasks(d)),
                             "GET %s to be cancelled (%s)" % (path, extra),
                             timeout=5)
                check(time.monotonic() - t0 < 5, "%s cancelled late" % path)
                n += count
                check(t["cancelled_total"] == n, "%s: %d cancelled, want %d" %
                      (path, t["cancelled_total"], n))
                freed += count
                check(released(d) == freed, "%s: frames released %d, want "
                      "%d" % (path, released(d), freed))
            check("test-slow (worker" in d.read_log() and
                  "cancelled: the client hung up" in d.read_log(),
                  "the cancellation is not logged")
            # Keep-alive: two slow replies on one connection, both read.
            s = slow_get(d.http_port, "/test/sleep?ms=300")
            check(read_reply(s)[0] == 200, "first keep-alive reply")
            s.sendall(b"GET /test/sleep?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n")
            check(read_reply(s)[0] == 200, "second keep-alive reply")
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            check(read_reply(s) == (200, b"Hello, world"), "GET / after")
            s.close()
            http_running(d, 0, "nothing left running")
            check(tasks(d)["cancelled_total"] == n,
                  "a client that waited was cancelled")
            check(http_get(d.http_port, "/")[0] == 200, "served after")
            check(d.stop() == 0, "exit status")


def main():
    with Daemon(workers=2) as d:
        test_list(d)
        test_tree(d)
        test_churn(d)
        test_errors(d)
        test_async(d)
        test_counters(d)
        check(d.stop() == 0, "exit status")
    test_cap()
    test_cancel()
    test_http_hangup()
    print("ok")


if __name__ == "__main__":
    main()
