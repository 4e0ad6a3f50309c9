"""Issue 16, part 3: an independent varlink peer. tests/varlink-peer, built
on the varlink project's own Go package (Debian's
golang-github-varlink-go-dev), checks the control socket against the
specification and against the interface description reclaimd serves: the
package's IDL parser accepts it, every method's reply and every error's
parameters have the declared types (no undeclared key, no missing
non-nullable field), oneway calls are performed unanswered, pipelined calls
are answered in order, RunTask with "more" streams replies that continue.
A second run, as nobody, sees PermissionDenied. Found before the fix: Stats
answered a forensics key its declared output lacked, and the
org.varlink.service errors a reason their declarations lacked."""

import os
import shutil
import subprocess

from harness import Daemon, check, skip

PEER = os.environ.get("VARLINK_PEER", "")
WAITS = os.path.join(os.environ.get("TEST_PLUGIN_DIR", ""), "plugin-waits.so")
EXAMPLE = os.environ.get("EXAMPLE_PLUGIN", "")


def peer(d, *args, prefix=()):
    p = subprocess.run(list(prefix) + [PEER, "-socket", d.sock] + list(args),
                       capture_output=True, text=True, timeout=90)
    print(p.stdout, end="")
    check(p.returncode == 0, "varlink-peer %s: exit %d:\n%s%s" %
          (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p.stdout


def main():
    if not PEER or not os.path.exists(PEER):
        skip("varlink-peer not built: needs golang-go and "
             "golang-github-varlink-go-dev (tools/dev deps)")
    for so in (WAITS, EXAMPLE):
        check(os.path.exists(so), "plugin not built: %s" % so)
    conf = ("[tasks]\nmodules = %s %s\nmax_running = 2\n"
            "[http]\ndrain_timeout = 10s\n[control]\nmode = 0666\n" %
            (WAITS, EXAMPLE))
    with Daemon(conf=conf) as d:
        if os.geteuid() == 0 and shutil.which("setpriv"):
            peer(d, "-unprivileged", prefix=["setpriv", "--reuid=nobody",
                                             "--regid=nogroup",
                                             "--clear-groups"])
        else:
            print("SKIP part: PermissionDenied needs root and setpriv")
        out = peer(d, "-config", d.conf, "-pid", str(d.proc.pid),
                   "-slow-task", "test-sleep", "-fail-task", "example-fail")
        check("idl: io.reclaim parsed" in out, out)
        # The peer ended with SIGTERM during a drain: the daemon exits 0.
        check(d.stop() == 0, "exit status after the peer's SIGTERM")
    print("ok")


if __name__ == "__main__":
    main()
