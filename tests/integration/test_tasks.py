#!/usr/bin/python3
"""Tasks with the real reclaimctl: tasks lists every kind, run tree answers
the write-up's object counts (3,918,600 over 20 rounds), run churn makes
cycles the collector finds (and none when cycles=0), bad arguments and
request tasks are errors, and a task in flight does not block the daemon."""

import json
import subprocess
import time

from harness import RECLAIMCTL, Daemon, check

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


def main():
    with Daemon(workers=2) as d:
        test_list(d)
        test_tree(d)
        test_churn(d)
        test_errors(d)
        test_async(d)
        check(d.stop() == 0, "exit status")
    print("ok")


if __name__ == "__main__":
    main()
