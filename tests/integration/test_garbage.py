"""The write-up's debugging method as one command: with leak debugging on,
five requests to /seed/leaky and a collection make `reclaimctl --json
garbage` name Runner and Task five times each with the cycle
Runner -yield_point-> Task -runner-> Runner; reading empties the report;
/seed/fixed leaves neither; with debugging off nothing is recorded."""

from harness import Daemon, check, http_get

N = 5


def get(d, path):
    code, body = http_get(d.http_port, path)
    check(code == 200, "GET %s: %d %r" % (path, code, body[:80]))
    return body


def collect(d):
    rc, _, err = d.ctl("collect")
    check(rc == 0, "collect: " + err)


def garbage(d):
    g = d.ctl_json("garbage")
    for k in ("types", "cycles", "collections", "objects", "bytes",
              "truncated", "debug_leak"):
        check(k in g, "garbage lacks %s: %r" % (k, g))
    return g, {t["type"]: t for t in g["types"]}


def test_leaky(d):
    garbage(d)  # start from an empty report
    for _ in range(N):
        get(d, "/seed/leaky")
    collect(d)
    g, types = garbage(d)
    for name in ("Runner", "Task"):
        check(name in types, "garbage lacks %s: %r" % (name, g))
        check(types[name]["count"] == N,
              "%s count %d, want %d" % (name, types[name]["count"], N))
    check(types["Task"]["bytes"] >= N * (20 << 20),
          "Task bytes %d do not include the 20 MiB payloads" %
          types["Task"]["bytes"])
    paths = [c for c in g["cycles"]
             if "-yield_point->" in c["path"] and "-runner->" in c["path"]]
    check(paths, "no cycle through yield_point and runner: %r" % g["cycles"])
    check(paths[0]["path"] == "Runner -yield_point-> Task -runner-> Runner",
          "cycle spelled %r" % paths[0]["path"])
    check(paths[0]["count"] == N, "cycle found %d times" % paths[0]["count"])
    _, types = garbage(d)
    check("Runner" not in types, "reading the report did not empty it")


def test_human(d):
    for _ in range(2):
        get(d, "/seed/leaky?mb=1")
    collect(d)
    rc, out, err = d.ctl("garbage")
    check(rc == 0, "garbage: " + err)
    for word in ("TYPE", "COUNT", "BYTES", "Runner", "Task",
                 "Runner -yield_point-> Task -runner-> Runner",
                 "Runner.yield_point Task.runner"):
        check(word in out, "garbage output lacks %r:\n%s" % (word, out))


def test_fixed(d):
    for _ in range(N):
        get(d, "/seed/fixed")
    collect(d)
    g, types = garbage(d)
    check("Runner" not in types and "Task" not in types,
          "/seed/fixed left garbage: %r" % g)


def test_off(d):
    check(d.ctl_json("debug", "leak", "off") == {"leak": False}, "off")
    for _ in range(2):
        get(d, "/seed/leaky?mb=1")
    collect(d)
    g, types = garbage(d)
    check(g["debug_leak"] is False, "debug_leak in the report")
    check(types == {} and g["objects"] == 0,
          "garbage recorded with debugging off: %r" % g)


def main():
    with Daemon() as d:
        code, _ = http_get(d.http_port, "/seed/fixed?mb=1")
        check(code != 404, "/seed/fixed is a built-in route, yet 404")
        check(d.ctl_json("debug", "leak", "on") == {"leak": True}, "on")
        test_leaky(d)
        test_human(d)
        test_fixed(d)
        test_off(d)
        check(d.stop() == 0, "reclaimd exit status")
    print("ok")


if __name__ == "__main__":
    main()
