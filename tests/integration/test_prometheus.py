"""A real Prometheus server (Debian's prometheus) scrapes a running reclaimd
on loopback, as an operator would set it up: a scrape job with the default
metrics path (Prometheus's Accept header asks for the text format), the
alerting rules reclaim ships loaded. PromQL through its HTTP API then shows
what the test drove: the target is up, rate() of requests and of collections
is above zero after load, the standard process families and
reclaim_build_info arrived, and every shipped rule evaluates without error
against the real series, and names only metrics reclaimd exports."""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import urllib.parse
import urllib.request

from harness import (Daemon, SRCDIR, check, fail, free_port, http_get, run,
                     wait_for)

RULES = os.path.join(SRCDIR, "conf", "prometheus", "reclaimd-alerts.yml")

CONFIG = """global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %s
scrape_configs:
  - job_name: reclaimd
    static_configs:
      - targets: ['127.0.0.1:%d']
"""


class Prometheus:
    """A Prometheus server of its own: temporary config and storage, a free
    loopback port for its web listener."""

    def __init__(self, target_port):
        self.dir = tempfile.mkdtemp(prefix="reclaim-prom-")
        self.port = free_port()
        conf = os.path.join(self.dir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write(CONFIG % (RULES, target_port))
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + conf,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)

    def get(self, path, **params):
        url = "http://127.0.0.1:%d%s" % (self.port, path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, r.read().decode()
        except OSError:
            return None, ""

    def ready(self):
        if self.proc.poll() is not None:
            fail("prometheus exited with %d:\n%s" %
                 (self.proc.returncode, self.read_log()))
        return self.get("/-/ready")[0] == 200

    def query(self, expr):
        """The instant vector of expr: [(labels, value)]."""
        code, body = self.get("/api/v1/query", query=expr)
        check(code == 200, "query %s: %s %s" % (expr, code, body))
        data = json.loads(body)["data"]
        check(data["resultType"] == "vector", "%s: %r" % (expr, data))
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def read_log(self):
        with open(os.path.join(self.dir, "log")) as f:
            return f.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def positive(p, expr):
    """Whether expr has a series above 0 (its value, else None)."""
    r = p.query(expr)
    return r[0][1] if r and r[0][1] > 0 else None


def load(d):
    """Requests, and the collections they bring about, driven by ab; and a
    forced collection in case the young generation did not fill."""
    rc, out, err = run(["ab", "-q", "-n", "2000", "-c", "10", "-s", "10",
                        "http://127.0.0.1:%d/seed/fixed" % d.http_port])
    check(rc == 0 and "Failed requests:        0" in out,
          "ab: rc %d: %s%s" % (rc, out, err))
    rc, _, err = d.ctl("collect")
    check(rc == 0, "collect: " + err)


def test_scrape(p, d):
    # up once a scrape succeeded: loaded after it, rate() sees the rise
    wait_for(lambda: [v for _, v in p.query('up{job="reclaimd"}') if v == 1],
             "Prometheus to scrape reclaimd (up == 1)", timeout=60)
    before = d.ctl_json("stats")
    load(d)
    after = d.ctl_json("stats")
    check(after["http"]["requests_total"] - before["http"]["requests_total"]
          >= 2000, "the load was not counted")
    req = wait_for(lambda: positive(
        p, 'rate(reclaim_http_requests_total{job="reclaimd"}[1m])'),
        "rate(reclaim_http_requests_total[1m]) > 0", timeout=60)
    col = wait_for(lambda: positive(
        p, 'rate(reclaim_heap_collections_total{job="reclaimd"}[1m])'),
        "rate(reclaim_heap_collections_total[1m]) > 0", timeout=60)
    print("  up 1; rate(requests) %.1f/s, rate(collections) %.2f/s over 1m" %
          (req, col))
    r = p.query('reclaim_build_info{job="reclaimd"}')
    check(len(r) == 1 and r[0][1] == 1 and r[0][0].get("version"),
          "reclaim_build_info: %r" % r)
    for fam in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                "process_virtual_memory_bytes", "process_open_fds",
                "process_max_fds", "process_start_time_seconds"):
        check(positive(p, fam + '{job="reclaimd"}'), fam + " did not arrive")
    start = p.query('process_start_time_seconds{job="reclaimd"}')[0][1]
    check(abs(start - after["process"]["start_time_ms"] / 1000) < 0.01,
          "process_start_time_seconds %.3f differs from Stats" % start)


def test_rule_names(d):
    """Every metric the shipped rules name is one reclaimd exports: a
    misspelt name would leave an alert silent for ever, which neither
    promtool nor the server reports."""
    code, text = http_get(d.metrics_port, "/metrics?format=prometheus")
    check(code == 200, "scrape: %d" % code)
    exported = {line.split()[2] for line in text.splitlines()
                if line.startswith("# TYPE ")}
    with open(RULES) as f:
        named = set(re.findall(r"\b((?:reclaim|process)_[a-z_]+)", f.read()))
    check(len(named) >= 8, "the rules name only %r" % sorted(named))
    check(named <= exported, "the rules name metrics reclaimd does not "
          "export: %r" % sorted(named - exported))


def test_rules(p):
    """Every shipped rule is loaded and evaluates against the real series
    without error (a misspelt function or a type error shows here)."""
    def evaluated():
        code, body = p.get("/api/v1/rules")
        check(code == 200, "rules: %s" % code)
        rules = [r for g in json.loads(body)["data"]["groups"]
                 for r in g["rules"]]
        if not rules or any(r.get("lastEvaluation", "").startswith("0001")
                            for r in rules):
            return None
        return rules
    rules = wait_for(evaluated, "the rules to be evaluated", timeout=60)
    for r in rules:
        check(r["health"] == "ok", "rule %s: %s %s" %
              (r["name"], r["health"], r.get("lastError")))
    print("  %d rules loaded and evaluated: %s" %
          (len(rules), ", ".join(r["name"] for r in rules)))


def main():
    for tool in ("prometheus", "ab"):
        if shutil.which(tool) is None:
            fail("%s is not installed (see tools/dev)" % tool)
    with Daemon() as d:
        p = Prometheus(d.metrics_port)
        try:
            wait_for(p.ready, "Prometheus to be ready", timeout=60)
            test_rule_names(d)
            test_scrape(p, d)
            test_rules(p)
        finally:
            p.close()
        check(d.stop() == 0, "reclaimd exit status")
    print("ok")


if __name__ == "__main__":
    main()
