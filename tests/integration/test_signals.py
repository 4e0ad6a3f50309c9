"""SIGTERM and SIGINT: stop accepting, let what is in flight finish within
http.drain_timeout, remove the socket, exit 0."""

import os
import signal
import socket
import time

from harness import Daemon, check, fail, http_get


def main():
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
