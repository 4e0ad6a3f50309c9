"""SIGTERM and SIGINT: stop accepting, let what is in flight finish within
http.drain_timeout, remove the socket, exit 0. A SIGHUP sent as the daemon
starts is held until the daemon handles it (it does not die with status 129);
SIGUSR1, SIGUSR2 and SIGALRM have no effect."""

import os
import signal
import socket
import time

from harness import Daemon, check, fail, http_get, wait_for


SPAWNS = 50
SIGHUP_BIT = 1 << (signal.SIGHUP - 1)


def sighup_blocked(pid):
    """Whether main() blocked SIGHUP (its first instruction), from
    /proc/PID/status; False once the process is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("SigBlk:"):
                    return bool(int(line.split()[1], 16) & SIGHUP_BIT)
    except OSError:
        pass
    return False


def early_sighup():
    """SIGHUP at the earliest moment main() can act on it: as soon as it
    blocked signals, or (a daemon that never blocks them) as soon as its
    control socket exists, which is before its handlers are set up. Before
    main() runs nothing can help (the loader's default action), so that
    moment is not tried. Each daemon must survive, reload and serve."""
    for i in range(SPAWNS):
        with Daemon(start=False) as d:
            d.start(wait=False)
            pid = d.proc.pid
            deadline = time.monotonic() + 5
            while (not sighup_blocked(pid) and not os.path.exists(d.sock)
                   and d.proc.poll() is None and
                   time.monotonic() < deadline):
                pass
            d.send(signal.SIGHUP)
            time.sleep(0.05)
            rc = d.proc.poll()
            check(rc is None, "spawn %d: SIGHUP at start: exit status %r: %s"
                  % (i, rc, d.read_log()[-500:]))
            wait_for(d.ready, "reclaimd to answer after SIGHUP")
            check(d.stop(signal.SIGTERM) == 0, "spawn %d: SIGTERM" % i)
    print("%d spawns survived a SIGHUP at start" % SPAWNS)


def ignored_signals():
    """SIGUSR1, SIGUSR2, SIGALRM: the daemon keeps serving, and a SIGTERM
    still drains, removes the socket and exits 0."""
    with Daemon() as d:
        for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM):
            d.send(sig)
            time.sleep(0.1)
            check(d.proc.poll() is None, "%s ended the daemon: %r" %
                  (sig.name, d.proc.returncode))
            rc, _, err = d.ctl("stats")
            check(rc == 0, "after %s: reclaimctl stats: %s" % (sig.name, err))
            code, _ = http_get(d.http_port, "/")
            check(code == 200, "after %s: HTTP %d" % (sig.name, code))
        check(d.stop(signal.SIGTERM) == 0, "SIGTERM after the others")
        check(not os.path.exists(d.sock), "socket left behind")
    print("SIGUSR1, SIGUSR2, SIGALRM ignored")


def main():
    ignored_signals()
    early_sighup()
    with Daemon(conf="[http]\ndrain_timeout = 1s\n") as d:
        # A keep-alive client mid-request (headers not finished).
        slow = socket.create_connection(("127.0.0.1", d.http_port))
        slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        code, body = http_get(d.http_port, "/")
        check(code == 200, "served before SIGTERM")
        start = time.monotonic()
        rc = d.stop(signal.SIGTERM)
        took = time.monotonic() - start
        check(rc == 0, "SIGTERM: exit status %d" % rc)
        check(took < 5, "SIGTERM took %.1f s with a 1 s drain" % took)
        check(not os.path.exists(d.sock), "socket left behind")
        log = d.read_log()
        check("stopping" in log and "stopped" in log, "log: %r" % log)
        try:
            socket.create_connection(("127.0.0.1", d.http_port), timeout=1)
            fail("still accepting HTTP after exit")
        except OSError:
            pass
        slow.close()
    with Daemon() as d:
        check(d.stop(signal.SIGINT) == 0, "SIGINT: exit status")
    print("ok")


main()
