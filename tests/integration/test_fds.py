"""Descriptor exhaustion. reclaimd runs under RLIMIT_NOFILE
256:256 (prlimit: main() cannot raise a soft limit already at the hard one).

1. More idle HTTP connections than it has descriptors (1,100): http.max_connections,
   fitted to the limit, evicts the idlest, so the control socket still
   answers `reclaimctl stats` and a new HTTP client is served; the log grows
   by kilobytes (before: the accept loop spun at 184% CPU writing "Too many
   open files" 1.8 million times in 10 s, and reclaimctl timed out).
2. Every descriptor taken by other things (RunTask test-fd tasks, each on a
   control connection of its own and holding a pipe): HTTP accepts fail
   with EMFILE; the listener pauses (100 ms doubling to 1 s) and logs once a
   pause, so the log stays small; once the tasks end the daemon serves HTTP
   and control again.
3. The metrics listener's request deadline (10 s, reclaimd.conf(5)): a
   client sending a byte every 2 s is closed within it, where evhttp's idle
   timeout alone (restarted by each byte) kept it open for ever."""

import os
import resource
import shutil
import socket
import subprocess
import time

from harness import (RECLAIMCTL, RECLAIMD, Daemon, check, fail, http_get,
                     wait_for)

LIMIT = 256
IDLE = 1100
WAITS = os.path.join(os.environ.get("TEST_PLUGIN_DIR", ""), "plugin-waits.so")
# Bounds on the log's growth. A line is about 100 bytes: 64 KiB is 650
# lines, far more than the pauses (a few a second) or a start write, far
# less than a spinning accept loop (megabytes a second).
LOG_GROWTH_MAX = 64 * 1024


def raise_own_limit():
    """This test holds 1,100 sockets itself."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 8192) if hard != resource.RLIM_INFINITY else 8192
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < IDLE + 200:
        fail("cannot hold %d sockets: RLIMIT_NOFILE hard limit %d" %
             (IDLE, hard))


def start_limited(d):
    d.start(argv=["prlimit", "--nofile=%d:%d" % (LIMIT, LIMIT), RECLAIMD,
                  "-c", d.conf] + d.args)


def log_size(d):
    return os.path.getsize(d.logpath)


def stats_answers(d):
    """reclaimctl stats answers within its own timeout (and ours, 15 s)."""
    try:
        p = subprocess.run([RECLAIMCTL, "-S", d.sock, "stats"],
                           capture_output=True, text=True, timeout=15)
    except subprocess.TimeoutExpired:
        return False, "reclaimctl stats: no answer in 15 s"
    return p.returncode == 0, p.stderr


def idle_connections():
    with Daemon(start=False) as d:
        start_limited(d)
        base = log_size(d)
        socks = []
        for _ in range(IDLE):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", d.http_port))
            socks.append(s)
        time.sleep(2)  # let the workers accept (and evict) them all
        ok, err = stats_answers(d)
        check(ok, "control socket with %d idle HTTP connections: %s" %
              (IDLE, err))
        code, _ = http_get(d.http_port, "/")
        check(code == 200, "a new HTTP client: %d" % code)
        open_fds = len(os.listdir("/proc/%d/fd" % d.proc.pid))
        check(open_fds < LIMIT, "%d descriptors open of %d" %
              (open_fds, LIMIT))
        grown = log_size(d) - base
        check(grown < LOG_GROWTH_MAX, "the log grew by %d bytes" % grown)
        # The cap is fitted to leave descriptors free: none ever ran out.
        check("Too many open files" not in d.read_log(),
              "HTTP connections took every descriptor: %s" %
              d.read_log()[-300:])
        for s in socks:
            s.close()
        check(d.stop() == 0, "exit status")
        print("%d idle connections: control answered, %d descriptors open, "
              "log +%d bytes" % (IDLE, open_fds, grown))


def exhausted():
    if not os.path.exists(WAITS):
        print("SKIP part: plugin-waits.so not built (TEST_PLUGIN_DIR)")
        return
    conf = ("[control]\nmax_connections = 1000\n[tasks]\nmodules = %s\n"
            "max_running = 1000\n" % WAITS)
    with Daemon(start=False) as d:
        d.write_conf(conf)
        start_limited(d)
        pid = d.proc.pid
        holders = []
        # Each test-fd task holds a control connection and a pipe: 3
        # descriptors; 100 of them are more than 256.
        for _ in range(100):
            v = d.varlink()
            v.send("io.reclaim.RunTask", {"task": "test-fd"})
            holders.append(v)
        wait_for(lambda: len(os.listdir("/proc/%d/fd" % pid)) >= LIMIT - 2,
                 "the daemon to use its %d descriptors" % LIMIT)
        base = log_size(d)
        clients = [socket.create_connection(("127.0.0.1", d.http_port))
                   for _ in range(50)]
        time.sleep(3)
        grown = log_size(d) - base
        check(d.proc.poll() is None, "the daemon died: %s" %
              d.read_log()[-500:])
        check(grown < LOG_GROWTH_MAX,
              "out of descriptors for 3 s, the log grew by %d bytes" % grown)
        check("not accepting for" in d.read_log(), "no pause was logged")
        for v in holders:
            v.close()
        for c in clients:
            c.close()
        wait_for(lambda: stats_answers(d)[0], "control to answer again",
                 timeout=15)
        wait_for(lambda: http_get(d.http_port, "/")[0] == 200,
                 "HTTP to answer again", timeout=15)
        check(d.stop() == 0, "exit status")
        print("out of descriptors for 3 s: log +%d bytes; served again after"
              % grown)


def metrics_deadline():
    with Daemon() as d:
        s = socket.create_connection(("127.0.0.1", d.metrics_port))
        s.settimeout(1)
        start = time.monotonic()
        request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
        closed = None
        for i in range(30):  # 60 s at most: twice evhttp's 10 s each byte
            try:
                s.sendall(request[i % len(request):i % len(request) + 1])
                if s.recv(1) == b"":
                    closed = time.monotonic() - start
                    break
            except socket.timeout:
                pass
            except OSError:
                closed = time.monotonic() - start
                break
            time.sleep(1)
        s.close()
        check(closed is not None, "a slow metrics client is open after 60 s")
        # The deadline is 10 s; the sweep looks every 100 ms. 20 s leaves
        # room for a slow machine and never passes a connection kept open.
        check(closed < 20, "a slow metrics client closed after %.1f s" %
              closed)
        code, _ = http_get(d.metrics_port, "/metrics")
        check(code == 200, "metrics after: %d" % code)
        print("slow metrics client closed after %.1f s" % closed)


def main():
    if shutil.which("prlimit") is None:
        print("SKIP: prlimit (util-linux) is needed to start reclaimd with "
              "a low RLIMIT_NOFILE")
        raise SystemExit(77)
    raise_own_limit()
    idle_connections()
    exhausted()
    metrics_deadline()
    print("ok")


main()
