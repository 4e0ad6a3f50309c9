"""Shared helpers for reclaim's integration tests: start the real reclaimd
on free loopback ports and a private socket, drive it with the real
reclaimctl or raw varlink, and poll for asynchronous effects with bounded
waits. A test fails with exit status 1 and skips with 77 (saying why)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

RECLAIMD = os.environ.get("RECLAIMD", "reclaimd")
RECLAIMCTL = os.environ.get("RECLAIMCTL", "reclaimctl")
SRCDIR = os.environ.get("SRCDIR", ".")


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def fail(why):
    print("FAIL: " + why)
    sys.exit(1)


def check(cond, why):
    if not cond:
        fail(why)


# One test alone: `python3 test_ctl.py test_thresholds`, $RECLAIM_TEST, or
# `meson test -C build ctl --test-args test_thresholds` (README,
# "Developing"). When the file's main() starts, every other test_* function
# of the file becomes a no-op, so main's setup (the daemon it starts) runs
# and only the named test with it. A file with no test_* functions runs as
# one test, and is refused a name.
ONLY = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("RECLAIM_TEST")


def _select(frame, event, arg):
    """At the call of __main__'s main(), leave only the test ONLY names."""
    if event != "call" or frame.f_code.co_name != "main" or \
            frame.f_globals.get("__name__") != "__main__":
        return
    sys.setprofile(None)
    g = frame.f_globals
    tests = sorted(n for n, v in g.items()
                   if n.startswith("test_") and callable(v) and
                   getattr(v, "__module__", None) == "__main__")
    if ONLY not in tests:
        print("FAIL: no test named %r here; the tests are: %s" %
              (ONLY, ", ".join(tests) or "none (the file runs as one)"))
        sys.exit(2)
    for n in tests:
        if n != ONLY:
            g[n] = lambda *a, _n=n, **kw: None
    print("only %s" % ONLY)


if ONLY:
    sys.setprofile(_select)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(cond, what, timeout=10.0):
    """Poll cond until it is true; fail naming what after timeout."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    fail("timed out waiting for " + what)


def run(argv, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)
    return p.returncode, p.stdout, p.stderr


def http_get(port, path, headers=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Varlink:
    """A raw varlink connection: NUL-terminated JSON messages."""

    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        # A full listen backlog makes a connect with a timeout fail at once
        # with EAGAIN rather than wait: retry until the timeout.
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock.connect(path)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        self.buf = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, method, params=None, **flags):
        msg = {"method": method}
        if params is not None:
            msg["parameters"] = params
        msg.update(flags)
        self.send_raw(json.dumps(msg).encode() + b"\0")

    def recv(self):
        """The next reply as a dict, or None when the peer closed."""
        while b"\0" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None):
        self.send(method, params)
        return self.recv()

    def close(self):
        self.sock.close()


class Daemon:
    """A reclaimd of its own: temporary directory, socket, ports, config."""

    def __init__(self, conf="", args=(), env=None, workers=2, start=True):
        self.dir = tempfile.mkdtemp(prefix="reclaim-test-")
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "control")
        self.http_port = free_port()
        self.metrics_port = free_port()
        self.conf = os.path.join(self.dir, "reclaimd.conf")
        self.logpath = os.path.join(self.dir, "log")
        self.write_conf(conf, workers)
        self.args = list(args)
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        if start:
            self.start()

    def base_conf(self, workers=2):
        return ("[control]\nsocket = %s\n[http]\nlisten = 127.0.0.1:%d\n"
                "workers = %d\n[metrics]\nlisten = 127.0.0.1:%d\n" %
                (self.sock, self.http_port, workers, self.metrics_port))

    def write_conf(self, extra="", workers=2):
        with open(self.conf, "w") as f:
            f.write(self.base_conf(workers) + extra)

    def start(self, wait=True, argv=None):
        self.log = open(self.logpath, "a")
        cmd = argv or [RECLAIMD, "-c", self.conf] + self.args
        self.proc = subprocess.Popen(cmd, stderr=self.log,
                                     stdout=subprocess.DEVNULL, env=self.env)
        if wait:
            wait_for(self.ready, "reclaimd to answer on " + self.sock)

    def ready(self):
        if self.proc.poll() is not None:
            fail("reclaimd exited with %d: %s" %
                 (self.proc.returncode, self.read_log()))
        rc, _, _ = self.ctl("stats")
        return rc == 0

    def read_log(self):
        with open(self.logpath) as f:
            return f.read()

    def ctl(self, *args, prefix=()):
        return run(list(prefix) + [RECLAIMCTL, "-S", self.sock] + list(args))

    def ctl_json(self, *args):
        rc, out, err = self.ctl("--json", *args)
        check(rc == 0, "reclaimctl --json %s: rc %d: %s" %
              (" ".join(args), rc, err))
        # run prints one object a reply (progress first): the last is the
        # answer.
        return [json.loads(line) for line in out.splitlines() if line][-1] \
            if args and args[0] == "run" else json.loads(out)

    def varlink(self):
        return Varlink(self.sock)

    def send(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Signal and wait; the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            fail("reclaimd did not exit within %d s of %s" % (timeout, sig))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False
