"""SIGTERM under load loses no in-flight response: requests that reclaimd
accepted before SIGTERM all finish with their full answer, after it, within
http.drain_timeout; the daemon then exits 0. Each request waits on a timer in
a task (the example plugin's /example/hello?ms=N), so they are still running
when the signal arrives."""

import http.client
import os
import signal
import threading
import time

from harness import Daemon, check, fail

EXAMPLE = os.environ.get("EXAMPLE_PLUGIN", "")
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


def main():
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
