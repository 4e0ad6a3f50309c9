"""Metrics: the JSON of GET /metrics and io.reclaim.Stats against the schema
in doc/metrics.md (every key documented, every documented key present, the
right types), the Prometheus text checked by `promtool check metrics`, by
a second parser (the Prometheus project's Python client) and against the
same document, the standard process_* families against what the kernel
says, histograms and per-worker series, and the
history ring served by Stats (and drawn by `reclaimctl top`)."""

import json
import os
import re
import shutil
import subprocess
import time

from harness import Daemon, SRCDIR, check, fail, http_get, run, wait_for

DOC = os.path.join(SRCDIR, "doc", "metrics.md")
TYPES = {"integer": int, "string": str, "boolean": bool, "array": list,
         "object": dict}


def read_doc():
    """{key: (type, [prometheus families], prometheus type)} from the
    tables of doc/metrics.md."""
    keys = {}
    row = re.compile(r"^\| `([^`]+)` \| (\w+) \|[^|]*\| ([^|]*)\|")
    with open(DOC) as f:
        for line in f:
            m = row.match(line)
            if not m:
                continue
            key, typ, prom = m.group(1), m.group(2), m.group(3).strip()
            check(typ in TYPES, "doc: %s has unknown type %s" % (key, typ))
            fams = re.findall(r"`((?:reclaim|process)_\w+)`", prom)
            ptype = prom.split()[-1] if fams else None
            check(key not in keys, "doc: %s listed twice" % key)
            keys[key] = (typ, fams, ptype)
    check(len(keys) > 30, "doc: found only %d keys" % len(keys))
    return keys


def flatten(obj, prefix=""):
    """{dotted key: value}, objects inside objects included; the workers
    array contributes workers[].KEY for each of its objects."""
    out = {}
    for k, v in obj.items():
        key = prefix + k
        out[key] = v
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        elif k == "workers" and not prefix:
            for w in v:
                check(isinstance(w, dict), "workers[] holds %r" % w)
                out.update(flatten(w, "workers[]."))
    return out


def type_ok(v, typ):
    if typ == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    return isinstance(v, TYPES[typ])


# The process's own keys in sections that are otherwise per worker.
NOT_PER_WORKER = ("heap.thresholds", "heap.young_bytes",
                  "tasks.on_demand_running", "tasks.rejected_total",
                  "tasks.max_running")


def worker_keys(doc):
    """Keys each workers[] object must have: heap.*, http.* and tasks.*
    (not the settings nor the process's own) and id."""
    out = {"workers[].id"}
    for k in doc:
        if k.split(".")[0] in ("heap", "http", "tasks") and \
                k not in NOT_PER_WORKER:
            out.add("workers[]." + k)
    return out


def check_schema(doc, obj, what, history=False):
    flat = flatten(obj)
    for key, v in flat.items():
        base = key.replace("workers[].", "") if key != "workers[].id" \
            else key
        if isinstance(v, dict) and base not in doc:
            continue  # a section: its keys are checked one by one
        check(base in doc, "%s: key %s is not in doc/metrics.md" % (what, key))
        check(type_ok(v, doc[base][0]), "%s: %s is %r, doc says %s" %
              (what, key, v, doc[base][0]))
    for key in doc:
        if key.startswith("workers[]") or (key.startswith("history")
                                           and not history):
            continue
        check(key in flat, "%s: documented key %s is missing" % (what, key))
    for key in worker_keys(doc):
        check(key in flat, "%s: %s is missing" % (what, key))
    for key in NOT_PER_WORKER:
        check("workers[]." + key not in flat,
              "%s: workers[] has %s, the process's own" % (what, key))


def check_histogram(h, what):
    check(len(h["counts"]) == len(h["bounds_ns"]) + 1,
          "%s: %d counts for %d bounds" % (what, len(h["counts"]),
                                           len(h["bounds_ns"])))
    check(h["bounds_ns"] == sorted(h["bounds_ns"]), what + ": bounds order")
    check(sum(h["counts"]) == h["count"], what + ": count is not the sum")


def test_json(d, doc):
    code, body = http_get(d.metrics_port, "/metrics")
    check(code == 200, "GET /metrics: %d" % code)
    m = json.loads(body)
    check_schema(doc, m, "GET /metrics")
    s = d.ctl_json("stats")
    check_schema(doc, s, "reclaimctl --json stats")
    check(set(flatten(m)) == set(flatten(s)),
          "GET /metrics and Stats differ in keys: %r" %
          (set(flatten(m)) ^ set(flatten(s))))
    code, body = http_get(d.metrics_port, "/metrics",
                          {"Accept": "application/json"})
    check(code == 200 and body.lstrip().startswith("{"),
          "Accept: application/json did not give JSON")
    h = s["heap"]["pause_histogram"]
    check_histogram(h, "heap.pause_histogram")
    check(h["count"] == s["heap"]["collections_total"] and h["count"] >= 2,
          "pause histogram count %d, collections %d" %
          (h["count"], s["heap"]["collections_total"]))
    check(h["sum_ns"] == s["heap"]["pause_total_ns"], "pause sum")
    check_histogram(s["watchdog"]["reaction_histogram"],
                    "watchdog.reaction_histogram")
    for w in s["workers"]:
        check_histogram(w["heap"]["pause_histogram"], "worker histogram")


def promtool(text):
    p = subprocess.run(["promtool", "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and not p.stdout.strip() and
          not p.stderr.strip(),
          "promtool check metrics: rc %d: %s%s" % (p.returncode, p.stdout,
                                                   p.stderr))


def families(text):
    """{family: type} from the TYPE lines, checking each has HELP first."""
    fams, helps = {}, set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
        elif line.startswith("# TYPE "):
            _, _, name, typ = line.split()
            check(name in helps, "no HELP before TYPE of " + name)
            check(name not in fams, "TYPE twice for " + name)
            fams[name] = typ
    return fams


def sample(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[1])
    fail("no series %s in:\n%s" % (series, text))


# The process families every Prometheus client library exports, by their
# standard names (client_golang's process collector, prometheus_client's
# ProcessCollector).
STANDARD = {"process_cpu_seconds_total": "counter",
            "process_resident_memory_bytes": "gauge",
            "process_virtual_memory_bytes": "gauge",
            "process_open_fds": "gauge",
            "process_max_fds": "gauge",
            "process_start_time_seconds": "gauge"}


def soft_nofile(pid):
    """The soft RLIMIT_NOFILE of pid, from /proc/PID/limits."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    fail("no Max open files in /proc/%d/limits" % pid)


def test_standard(d, text, started):
    """The process_* families and reclaim_build_info: their names and types
    as client libraries have them, their values what the kernel says."""
    fams = families(text)
    for name, typ in STANDARD.items():
        check(fams.get(name) == typ, "%s is %r, not a %s" %
              (name, fams.get(name), typ))
    check(sample(text, "process_resident_memory_bytes") ==
          sample(text, "reclaim_process_rss_bytes"),
          "process_resident_memory_bytes differs from the RSS kept")
    check(sample(text, "process_cpu_seconds_total") > 0, "no CPU time")
    check(sample(text, "process_virtual_memory_bytes") >
          sample(text, "process_resident_memory_bytes"), "virtual < rss")
    fds = len(os.listdir("/proc/%d/fd" % d.proc.pid))
    # the daemon's descriptors, give or take a few connections: the
    # scrape's own, and those of the reclaimctl calls just made, which the
    # daemon closes on its next turn of the loop
    check(abs(sample(text, "process_open_fds") - fds) <= 4,
          "process_open_fds %s, /proc says %d" %
          (sample(text, "process_open_fds"), fds))
    check(sample(text, "process_max_fds") == soft_nofile(d.proc.pid),
          "process_max_fds is not the soft RLIMIT_NOFILE")
    # started after the test began, before now: within a second and a
    # clock tick (10 ms) of it, as /proc/stat's btime is in whole seconds
    # (client libraries have the same error)
    t = sample(text, "process_start_time_seconds")
    check(started - 1.01 <= t <= time.time(),
          "process_start_time_seconds %.3f, test started %.3f" % (t, started))
    rc, out, _ = run([os.environ.get("RECLAIMD", "reclaimd"), "--version"])
    version = out.split()[-1]
    check(sample(text, 'reclaim_build_info{version="%s"}' % version) == 1,
          "reclaim_build_info lacks version %s" % version)
    s = d.ctl_json("stats")
    check(s["process"]["version"] == version, "process.version")
    check(s["process"]["max_fds"] == soft_nofile(d.proc.pid), "max_fds")


def test_python_parser(text, doc):
    """A second, independent parser of the text format: the Prometheus
    project's own Python client (Debian's python3-prometheus-client). Every
    family parses, with the type the doc gives, and each sample's value is
    the one in the text."""
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        fail("python3-prometheus-client is not installed (see tools/dev)")
    want = dict(STANDARD)
    for _, names, ptype in doc.values():
        for n in names:
            want[n] = ptype
    seen = {}
    for fam in text_string_to_metric_families(text):
        # the client names a counter's family without its _total
        name = fam.name + "_total" if fam.type == "counter" else fam.name
        check(name in want, "python parser: unknown family %s" % name)
        check(fam.type == want[name], "python parser: %s is a %s, doc "
              "says %s" % (name, fam.type, want[name]))
        check(fam.documentation, "python parser: %s has no help" % name)
        seen[name] = fam
        for smp in fam.samples:
            if not smp.labels:
                check(smp.value == sample(text, smp.name),
                      "python parser: %s is %r" % (smp.name, smp.value))
    check(set(seen) == set(want), "python parser: families differ: %r" %
          sorted(set(seen) ^ set(want)))
    buckets = [smp for smp in seen["reclaim_heap_pause_seconds"].samples
               if smp.name.endswith("_bucket")]
    check(buckets and buckets[-1].labels["le"] == "+Inf", "histogram +Inf")
    build = seen["reclaim_build_info"].samples
    check(len(build) == 1 and build[0].value == 1 and
          build[0].labels.get("version"), "reclaim_build_info: %r" % build)


def test_prometheus(d, doc):
    code, text = http_get(d.metrics_port, "/metrics?format=prometheus")
    check(code == 200, "?format=prometheus: %d" % code)
    promtool(text)
    code, text2 = http_get(d.metrics_port, "/metrics",
                           {"Accept": "text/plain"})
    check(code == 200 and text2.startswith("# HELP"),
          "Accept: text/plain did not give Prometheus text")
    promtool(text2)
    fams = families(text)
    want = {}
    for key, (_, names, ptype) in doc.items():
        for n in names:
            want[n] = ptype
    check(set(fams) == set(want),
          "Prometheus families and doc/metrics.md differ: only in output "
          "%r, only in doc %r" % (sorted(set(fams) - set(want)),
                                  sorted(set(want) - set(fams))))
    for name, typ in fams.items():
        check(name.startswith("reclaim_") or name in STANDARD,
              "family without reclaim_: " + name)
        check(typ == want[name], "%s is a %s, doc says %s" %
              (name, typ, want[name]))
        if typ == "counter":
            check(name.endswith("_total"), "counter %s lacks _total" % name)
    for w in ("0", "1"):
        sample(text, 'reclaim_worker_heap_objects{worker="%s"}' % w)
        sample(text, 'reclaim_worker_heap_pause_seconds_count{worker="%s"}'
               % w)
    s = d.ctl_json("stats")
    check(sample(text, "reclaim_heap_collections_total") ==
          s["heap"]["collections_total"], "collections differ from JSON")
    check(sample(text, "reclaim_heap_pause_seconds_count") ==
          s["heap"]["collections_total"], "pause histogram count")
    check(sample(text, 'reclaim_heap_pause_seconds_bucket{le="+Inf"}') ==
          s["heap"]["collections_total"], "+Inf bucket")
    check(sample(text, "reclaim_process_workers") == 2, "workers")
    check(sample(text, 'reclaim_watchdog_level{level="%s"}' %
                 s["watchdog"]["level"]) == 1, "level series")
    return text


def test_history(d, doc):
    wait_for(lambda: d.ctl_json("stats")["process"]["uptime_seconds"] >= 3,
             "three seconds of history")
    v = d.varlink()
    r = v.call("io.reclaim.Stats", {"history": 2})
    check("error" not in r, "Stats history: %r" % r)
    h = r["parameters"]["history"]
    check_schema(doc, r["parameters"], "Stats with history", history=True)
    check(h["samples"] == 2 and h["interval_ms"] == 1000, "history: %r" % h)
    for col in ("time_us", "rss_bytes", "limit_bytes", "heap_bytes",
                "collections_total", "level"):
        check(len(h[col]) == 2, "history.%s: %r" % (col, h[col]))
    check(h["time_us"][0] < h["time_us"][1], "history is not oldest first")
    check(all(x > 0 for x in h["rss_bytes"]), "history rss")
    r = v.call("io.reclaim.Stats", {"history": 600})
    check(2 <= r["parameters"]["history"]["samples"] < 600,
          "history 600: %r" % r["parameters"]["history"]["samples"])
    r = v.call("io.reclaim.Stats", {"history": 601})
    check(r.get("error") == "org.varlink.service.InvalidParameter",
          "history 601: %r" % r)
    check("history" not in d.ctl_json("stats"), "history without asking")
    v.close()
    top = d.ctl_json("top", "--once")
    check(top["history"]["samples"] >= 3, "top --json lacks the history")
    rc, out, _ = d.ctl("top", "--once")
    spark = [l for l in out.splitlines() if "last minute" in l]
    check(rc == 0 and spark and len(spark[0].split()[-1]) >= 3,
          "top's sparkline does not show the history: %r" % out)


def main():
    if shutil.which("promtool") is None:
        fail("promtool is not installed (Debian: prometheus; see tools/dev)")
    doc = read_doc()
    started = time.time()
    with Daemon() as d:
        for _ in range(2):
            rc, _, err = d.ctl("collect")
            check(rc == 0, "collect: " + err)
        time.sleep(0.3)  # workers publish their stats every 100 ms
        test_json(d, doc)
        text = test_prometheus(d, doc)
        test_standard(d, text, started)
        test_python_parser(text, doc)
        test_history(d, doc)
        check(d.stop() == 0, "reclaimd exit status")
    print("ok")


if __name__ == "__main__":
    main()
