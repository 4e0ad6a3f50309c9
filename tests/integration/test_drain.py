"""SIGTERM under load loses no in-flight response: requests that reclaimd
accepted before SIGTERM all finish with their full answer, after it, within
http.drain_timeout; the daemon then exits 0. Each request waits on a timer in
a task (the example plugin's /example/hello?ms=N), so they are still running
when the signal arrives.

What is still running when http.drain_timeout expires is answered, not cut:
an HTTP request with the documented 503, a RunTask call with
io.reclaim.ShuttingDown (test-sleep and GET /test/sleep, of the test plugin
plugin-waits.so, wait a minute)."""

import http.client
import os
import signal
import threading
import time

import socket
import subprocess

from harness import RECLAIMCTL, Daemon, check, fail, wait_for

EXAMPLE = os.environ.get("EXAMPLE_PLUGIN", "")
WAITS = os.path.join(os.environ.get("TEST_PLUGIN_DIR", ""), "plugin-waits.so")
CLIENTS = 40
TASK_MS = 800


def request(port, results, i):
    """One GET that takes TASK_MS in the daemon; record status, body, time."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        c.request("GET", "/example/hello?ms=%d" % TASK_MS)
        r = c.getresponse()
        body = r.read().decode()
        results[i] = (r.status, body, time.monotonic())
        c.close()
    except Exception as e:  # a lost response is what this test looks for
        results[i] = ("error", repr(e), time.monotonic())


def raw_get(port, path):
    """A GET on a raw socket; the whole reply (b"" if closed unanswered)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
        if b"\r\n\r\n" in data:
            head, body = data.split(b"\r\n\r\n", 1)
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    if len(body) >= int(line.split(b":")[1]):
                        s.close()
                        return data
    s.close()
    return data


def cut_run_task(conf, workers):
    """reclaimctl run test-sleep, SIGTERM: the answer must be
    io.reclaim.ShuttingDown (exit status 1), not a closed connection (3)."""
    with Daemon(conf=conf, workers=workers) as d:
        p = subprocess.Popen([RECLAIMCTL, "-S", d.sock, "run", "test-sleep"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        wait_for(lambda: d.ctl_json("stats")["tasks"]["started_total"] >= 1,
                 "test-sleep to start")
        rc = d.stop(signal.SIGTERM, timeout=30)
        _, err = p.communicate(timeout=30)
        check(rc == 0, "exit status %d" % rc)
        check("io.reclaim.ShuttingDown" in err,
              "RunTask at the drain deadline: rc %d: %s" %
              (p.returncode, err.strip()))


def cut_request(conf):
    """GET /test/sleep, SIGTERM: the answer must be 503, not empty."""
    with Daemon(conf=conf, workers=1) as d:
        got = {}
        t = threading.Thread(
            target=lambda: got.update(http=raw_get(d.http_port,
                                                   "/test/sleep")))
        t.start()
        wait_for(lambda: d.ctl_json("stats")["tasks"]["started_total"] >= 1,
                 "GET /test/sleep to start")
        rc = d.stop(signal.SIGTERM, timeout=30)
        t.join(30)
        check(rc == 0, "exit status %d" % rc)
        head = got.get("http", b"").split(b"\r\n", 1)[0]
        check(head.startswith(b"HTTP/1.1 503"),
              "GET at the drain deadline: %r" % got.get("http"))


def past_the_deadline():
    """A RunTask and an HTTP request running at the drain deadline get the
    documented answers; ten times each, on one worker and on two (the
    RunTask answer was lost in about half the runs, the HTTP one in all)."""
    if not os.path.exists(WAITS):
        print("SKIP part: plugin-waits.so not built (TEST_PLUGIN_DIR)")
        return
    conf = "[http]\ndrain_timeout = 200ms\n[tasks]\nmodules = %s\n" % WAITS
    for run in range(10):
        cut_run_task(conf, 1 + run % 2)
        cut_request(conf)
    print("10 drains past the deadline: RunTask ShuttingDown, HTTP 503")


def main():
    past_the_deadline()
    if not EXAMPLE or not os.path.exists(EXAMPLE):
        print("SKIP: the example plugin was not built (EXAMPLE_PLUGIN)")
        raise SystemExit(77)
    conf = "[http]\ndrain_timeout = 10s\n[tasks]\nmodules = %s\n" % EXAMPLE
    with Daemon(conf=conf) as d:
        results = [None] * CLIENTS
        threads = [threading.Thread(target=request,
                                    args=(d.http_port, results, i))
                   for i in range(CLIENTS)]
        for t in threads:
            t.start()
        # Let every request reach its task; each then waits TASK_MS.
        time.sleep(TASK_MS / 2000)
        term = time.monotonic()
        rc = d.stop(signal.SIGTERM, timeout=30)
        for t in threads:
            t.join(30)
        check(rc == 0, "SIGTERM: exit status %d" % rc)
        lost = [r for r in results if r is None or r[0] != 200]
        if lost:
            fail("%d of %d responses lost on SIGTERM: %r" %
                 (len(lost), CLIENTS, lost[:3]))
        late = [r for r in results if r[2] > term]
        check(len(late) == CLIENTS,
              "only %d of %d requests were still in flight at SIGTERM" %
              (len(late), CLIENTS))
        check(all("Hello" in r[1] for r in results),
              "a body was cut: %r" % results[0][1])
        print("%d requests in flight at SIGTERM, %d answered 200" %
              (CLIENTS, CLIENTS))
    print("ok")


main()
