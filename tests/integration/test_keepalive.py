"""A stuck worker stops the systemd keep-alive: one worker thread is frozen
with ptrace (the rest of the process runs on), WATCHDOG=1 stops and the log
names the worker; thawed, the keep-alive comes back."""

import ctypes
import os
import socket
import time

from harness import Daemon, check, fail, skip

PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
WALL = 0x40000000


def worker_tid(pid, name):
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            if f.read().strip() == name:
                return int(tid)
    fail("no thread named " + name)


def watchdogs(sock, seconds):
    """How many WATCHDOG=1 arrive within seconds."""
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            n += sock.recv(4096).decode().split("\n").count("WATCHDOG=1")
        except socket.timeout:
            pass
    return n


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                            ctypes.c_void_p]
    with Daemon(start=False) as d:
        path = os.path.join(d.dir, "notify")
        m = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        m.bind(path)
        m.settimeout(0.1)
        d.env.pop("WATCHDOG_PID", None)
        d.env.update(NOTIFY_SOCKET=path, WATCHDOG_USEC="400000")
        d.start()
        check(watchdogs(m, 1.0) >= 2, "no keep-alive to begin with")
        tid = worker_tid(d.proc.pid, "rcl-worker-1")
        if libc.ptrace(PTRACE_SEIZE, tid, None, None) != 0:
            skip("ptrace not permitted: %s" %
                 os.strerror(ctypes.get_errno()))
        libc.ptrace(PTRACE_INTERRUPT, tid, None, None)
        os.waitpid(tid, WALL)
        watchdogs(m, 0.5)  # one may have been on its way
        frozen = watchdogs(m, 1.2)
        served = d.ctl("stats")[0] == 0
        libc.ptrace(PTRACE_DETACH, tid, None, None)
        check(frozen == 0, "%d keep-alives while a worker was stuck" % frozen)
        check(served, "the control socket stopped answering")
        check("worker 1 does not answer" in d.read_log(), "log: " +
              d.read_log())
        check(watchdogs(m, 1.5) >= 1, "keep-alive did not come back")
        check(d.stop() == 0, "exit status")
    print("ok")


main()
