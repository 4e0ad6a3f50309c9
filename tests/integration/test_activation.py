"""Socket activation: reclaimd started by systemd-socket-activate takes the
passed control, http and metrics sockets (by name) instead of binding."""

import json
import os
import shutil

from harness import Daemon, RECLAIMD, check, http_get, run, skip, wait_for


def main():
    tool = shutil.which("systemd-socket-activate")
    if tool is None:
        skip("systemd-socket-activate is not installed")
    with Daemon(start=False) as d:
        sock = os.path.join(d.dir, "activated")
        # The file points elsewhere: only the passed sockets can work.
        d.write_conf("[control]\nsocket = %s\n" %
                     os.path.join(d.dir, "not-used"))
        d.start(wait=False, argv=[
            tool, "-l", sock, "-l", "127.0.0.1:%d" % d.http_port,
            "-l", "127.0.0.1:%d" % d.metrics_port,
            "--fdname=control:http:metrics", RECLAIMD, "-c", d.conf])
        wait_for(lambda: os.path.exists(sock), "the activated socket")
        d.sock = sock
        rc, out, err = d.ctl("--json", "stats")
        check(rc == 0, "reclaimctl through the activated socket: %r" % err)
        check("workers" in json.loads(out), "stats reply")
        code, body = http_get(d.http_port, "/")
        check(code == 200 and body == "Hello, world", "activated http")
        code, body = http_get(d.metrics_port, "/metrics")
        check(code == 200 and "heap" in json.loads(body), "activated metrics")
        check(not os.path.exists(os.path.join(d.dir, "not-used")),
              "bound its own socket despite activation")
        check("activated on" in d.read_log(), "log: " + d.read_log())
        check(d.stop() == 0, "exit status")
    print("ok")


main()
