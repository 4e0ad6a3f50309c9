#!/usr/bin/python3
"""The HTTP front under abuse and pressure, with real clients: each limit
gets its 4xx and a closed connection while a keep-alive neighbour is still
served; an idle or stalled client is closed; keepalive=false closes every
reply; while the watchdog sheds (its limit set below the daemon's own RSS),
new requests get 503 with Retry-After, counted in http.shed_total, a request
already in flight finishes with 200, and after a reload with room requests
are served again; a bounded ab load test."""

import os
import re
import socket
import subprocess
import time

from harness import Daemon, check, fail, wait_for

PLUGIN = "[http]\nretry_after = 2s\n[tasks]\nmodules = %s\n" % os.environ.get(
    "EXAMPLE_PLUGIN", "")


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s


def request(s, data):
    """Send data, read one response; (status, headers, body, closed)."""
    s.sendall(data)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            fail("connection closed before a response to %r" % data[:60])
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in
               (l.partition(":") for l in lines[1:])}
    n = int(headers.get("content-length", "0"))
    while len(body) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body.decode(errors="replace")


def closed(s, timeout=5):
    """Whether the peer closes s within timeout."""
    s.settimeout(timeout)
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return True
    except (socket.timeout, TimeoutError):
        return False
    except ConnectionResetError:
        return True


def get(path, host="x"):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode()


def test_limits(d):
    port = d.http_port
    neighbour = connect(port)
    st, _, body = request(neighbour, get("/"))
    check(st == 200 and body == "Hello, world", "neighbour: %d %r" %
          (st, body))
    cases = [
        ("request line", get("/" + "a" * 9000), 414),
        ("header", ("GET / HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n" %
                    ("b" * 20000)).encode(), 431),
        ("body", ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
                  "\r\n" % (2 << 20)).encode() + b"c" * 65536, 413),
        # Past the backstop the HTTP library answers by itself.
        ("line past the backstop", get("/" + "d" * 60000), (400, 413)),
        ("headers past the backstop", ("GET / HTTP/1.1\r\nHost: x\r\n%s"
                                       "\r\n" % ("X-A: %s\r\n" % ("e" * 1000)
                                                  * 60)).encode(), (400, 413)),
    ]
    for what, data, code in cases:
        s = connect(port)
        st, headers, _ = request(s, data)
        codes = code if isinstance(code, tuple) else (code,)
        check(st in codes, "%s: status %d, expected %r" % (what, st, code))
        check(closed(s), "%s: connection left open" % what)
        s.close()
        st, _, body = request(neighbour, get("/"))
        check(st == 200 and body == "Hello, world",
              "neighbour after %s: %d" % (what, st))
    st, _, _ = request(neighbour, get("/nowhere"))
    check(st == 404, "unknown path: %d" % st)
    neighbour.close()


def test_idle(d):
    s = connect(d.http_port)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and then nothing
    t0 = time.monotonic()
    check(closed(s, timeout=5), "a stalled request was not closed")
    check(time.monotonic() - t0 >= 0.8, "closed before idle_timeout")
    s = connect(d.http_port)
    st, _, _ = request(s, get("/"))
    check(st == 200, "keep-alive: %d" % st)
    check(closed(s, timeout=5), "an idle keep-alive connection stayed open")


def test_trickle(d):
    """A client that trickles its headers is never idle for idle_timeout
    (10 s) but is cut off by request_timeout (1 s); a keep-alive client that
    waits between requests is not."""
    s = connect(d.http_port)
    t0 = time.monotonic()
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    cut = False
    for i in range(40):
        time.sleep(0.1)
        try:
            s.sendall(b"X-%d: y\r\n" % i)
        except (BrokenPipeError, ConnectionResetError):
            cut = True
            break
        if closed(s, timeout=0.01):
            cut = True
            break
    took = time.monotonic() - t0
    check(cut, "a trickling client was not cut off in %.1f s" % took)
    check(0.8 <= took <= 3, "cut off after %.2f s, request_timeout 1 s" % took)
    s = connect(d.http_port)
    st, _, _ = request(s, get("/"))
    time.sleep(1.5)
    st2, _, body = request(s, get("/"))
    check(st == st2 == 200 and body == "Hello, world",
          "keep-alive across a pause: %d %d" % (st, st2))


def test_no_keepalive(d):
    s = connect(d.http_port)
    st, headers, _ = request(s, get("/"))
    check(st == 200 and headers.get("connection") == "close",
          "keepalive=false: %d %r" % (st, headers))
    check(closed(s, timeout=2), "keepalive=false: connection left open")


def stats(d):
    return d.ctl_json("stats")


def test_shedding(d):
    """A reload sets the limit below the daemon's RSS: the watchdog goes to
    shedding; a request in flight finishes; a reload with room ends it."""
    inflight = subprocess.Popen(
        ["curl", "-s", "-w", " %{http_code}", "http://127.0.0.1:%d/example/"
         "hello?ms=1500" % d.http_port], stdout=subprocess.PIPE, text=True)
    time.sleep(0.2)
    d.write_conf(PLUGIN + "[watchdog]\nlimit = 2MiB\n")
    rc, _, err = d.ctl("reload")
    check(rc == 0, "reload: %s" % err)
    wait_for(lambda: stats(d)["watchdog"]["level"] == "shedding",
             "the watchdog to shed")
    s = connect(d.http_port)
    st, headers, body = request(s, get("/"))
    check(st == 503, "while shedding: status %d" % st)
    check(headers.get("retry-after") == "2",
          "Retry-After: %r" % headers.get("retry-after"))
    wait_for(lambda: stats(d)["http"]["shed_total"] >= 1,
             "http.shed_total to count the 503")
    p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                        "http://127.0.0.1:%d/seed/fixed" % d.http_port],
                       capture_output=True, text=True, timeout=30)
    check(p.stdout == "503", "curl while shedding: %r" % p.stdout)
    out, _ = inflight.communicate(timeout=10)
    check(out.endswith(" 200") and "after 1500 ms" in out,
          "the request in flight when shedding began got %r" % out)
    check(stats(d)["watchdog"]["level"] == "shedding", "still shedding")
    d.write_conf(PLUGIN + "[watchdog]\nlimit = 64GiB\n")
    rc, _, err = d.ctl("reload")
    check(rc == 0, "reload: %s" % err)
    wait_for(lambda: stats(d)["watchdog"]["level"] != "shedding",
             "shedding to stop")
    st, _, body = request(connect(d.http_port), get("/"))
    check(st == 200, "after shedding: %d" % st)


def test_shedding_from_start(d):
    """The configured limit is below the daemon's RSS from the start."""
    wait_for(lambda: stats(d)["watchdog"]["level"] == "shedding",
             "the watchdog to shed")
    st, headers, _ = request(connect(d.http_port), get("/seed/leaky"))
    check(st == 503 and headers.get("retry-after") == "1",
          "shedding from the start: %d %r" % (st, headers))


def test_ab(d):
    """A bounded load test: 2000 requests, 50 at a time, none failed."""
    before = stats(d)["http"]["requests_total"]
    p = subprocess.run(["ab", "-q", "-n", "2000", "-c", "50", "-k", "-s",
                        "10", "http://127.0.0.1:%d/" % d.http_port],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "ab: %s" % p.stderr)
    failed = re.search(r"Failed requests:\s+(\d+)", p.stdout)
    done = re.search(r"Complete requests:\s+(\d+)", p.stdout)
    check(failed and failed.group(1) == "0", "ab failures: %s" % p.stdout)
    check(done and done.group(1) == "2000", "ab: %s" % p.stdout)
    after = wait_for(lambda: stats(d)["http"]["requests_total"] >=
                     before + 2000 and stats(d)["http"]["requests_total"],
                     "requests_total to count ab's requests")
    check(after - before == 2000, "requests_total rose by %d" %
          (after - before))


def main():
    with Daemon(conf="[http]\nidle_timeout = 1s\n") as d:
        test_limits(d)
        test_idle(d)
        test_ab(d)
        check(d.stop() == 0, "exit status")
    with Daemon(conf="[http]\nrequest_timeout = 1s\nidle_timeout = 10s\n") as d:
        test_trickle(d)
        test_limits(d)
        check(d.stop() == 0, "exit status")
    with Daemon(conf="[http]\nkeepalive = false\n") as d:
        test_no_keepalive(d)
    with Daemon(conf=PLUGIN) as d:
        test_shedding(d)
        check(d.stop() == 0, "exit status")
    with Daemon(conf="[watchdog]\nlimit = 2MiB\n") as d:
        test_shedding_from_start(d)
        check(d.stop() == 0, "exit status")
    print("ok")


if __name__ == "__main__":
    main()
