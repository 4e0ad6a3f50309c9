"""Play systemd's side of sd_notify: a NOTIFY_SOCKET datagram socket of our
own, with WATCHDOG_USEC set; check READY=1, STATUS=, WATCHDOG=1 (repeated),
RELOADING=1 with MONOTONIC_USEC then READY=1 on SIGHUP, STOPPING=1."""

import os
import signal
import socket
import time

from harness import Daemon, check, fail


class Manager:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.seen = []

    def wait(self, prefix, timeout=10):
        """Messages until one line starts with prefix; that line."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in self.seen:
                if line.startswith(prefix):
                    self.seen.remove(line)
                    return line
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            self.seen.extend(data.split("\n"))
        fail("no %s from reclaimd (seen %r)" % (prefix, self.seen))


def main():
    with Daemon(start=False) as d:
        m = Manager(os.path.join(d.dir, "notify"))
        d.env.pop("WATCHDOG_PID", None)
        d.env["NOTIFY_SOCKET"] = os.path.join(d.dir, "notify")
        d.env["WATCHDOG_USEC"] = "400000"
        d.start()
        m.wait("READY=1")
        status = m.wait("STATUS=")
        check("rss" in status and "level" in status, "STATUS: " + status)
        m.wait("WATCHDOG=1")
        start = time.monotonic()
        m.wait("WATCHDOG=1")
        m.wait("WATCHDOG=1")
        check(time.monotonic() - start < 2, "keep-alive too slow")
        d.send(signal.SIGHUP)
        m.wait("RELOADING=1")
        mono = m.wait("MONOTONIC_USEC=")
        check(int(mono.split("=")[1]) > 0, mono)
        m.wait("READY=1")
        d.send(signal.SIGTERM)
        m.wait("STOPPING=1")
        check(d.proc.wait(timeout=10) == 0, "exit status")
    print("ok")


main()
