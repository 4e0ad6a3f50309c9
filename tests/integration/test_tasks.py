#!/usr/bin/python3
"""Tasks with the real reclaimctl: tasks lists every kind, run tree answers
the write-up's object counts (3,918,600 over 20 rounds), run churn makes
cycles the collector finds (and none when cycles=0), bad arguments and
request tasks are errors, and a task in flight does not block the daemon;
the tasks.* counters of Stats move with the runs."""

import json
import subprocess
import time

from harness import RECLAIMCTL, Daemon, check, wait_for

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
                       ("churn", "on-demand"), ("seed-trim", "periodic")):
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
    check(json.loads(out)["result"]["elapsed_ms"] >= 1500, out)


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
    """Runs that end well or fail move their counters (the workers publish
    every 100 ms: poll)."""
    before = tasks(d)
    d.ctl_json("run", "tree", "depth=2", "children=2", "rounds=1")
    d.ctl_json("run", "tree", "depth=2", "children=2", "rounds=1")
    rc, _, _ = d.ctl("run", "tree", "rounds=0")
    check(rc == 1, "run tree rounds=0: rc %d" % rc)
    after = wait_for(lambda: (lambda t: t if t["finished_total"] >=
                              before["finished_total"] + 2 and
                              t["failed_total"] >= before["failed_total"] + 1
                              else None)(tasks(d)),
                     "tasks.finished_total +2 and tasks.failed_total +1")
    check(after["started_total"] >= before["started_total"] + 3,
          "started: %r then %r" % (before, after))
    check(after["cancelled_total"] == before["cancelled_total"],
          "nothing was cancelled: %r" % after)
    rc, out, _ = d.ctl("stats")
    line = [l for l in out.splitlines() if l.startswith("tasks ")]
    check(rc == 0 and line and "0 cancelled" in line[0] and "RUNNING" in out,
          "reclaimctl stats: %s" % out)


def main():
    with Daemon(workers=2) as d:
        test_list(d)
        test_tree(d)
        test_churn(d)
        test_errors(d)
        test_async(d)
        test_counters(d)
        check(d.stop() == 0, "exit status")
    print("ok")


if __name__ == "__main__":
    main()
