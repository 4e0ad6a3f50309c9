"""SO_PEERCRED: a client under another uid may read but not change state
(io.reclaim.PermissionDenied, exit 1), unless it is in control.group."""

import os
import shutil
import stat

from harness import Daemon, check, skip


def main():
    if os.geteuid() != 0:
        skip("needs root to run a client under another uid")
    if shutil.which("setpriv") is None:
        skip("setpriv (util-linux) is not installed")
    as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup",
                 "--clear-groups"]
    with Daemon(conf="[control]\nmode = 0666\n") as d:
        mode = stat.S_IMODE(os.stat(d.sock).st_mode)
        check(mode == 0o666, "socket mode %o" % mode)
        rc, out, err = d.ctl("stats", prefix=as_nobody)
        check(rc == 0, "nobody: stats: rc %d %r" % (rc, err))
        for args in (["collect"], ["debug", "leak", "on"],
                     ["thresholds", "1,2,3"], ["run", "x"], ["reload"]):
            rc, out, err = d.ctl(*args, prefix=as_nobody)
            check(rc == 1 and "io.reclaim.PermissionDenied" in err,
                  "nobody: %s: rc %d %r" % (args, rc, err))
        check(d.ctl_json("stats")["heap"]["thresholds"] == [700, 10, 10],
              "a refused SetThresholds changed the thresholds")
        rc, _, err = d.ctl("collect")
        check(rc == 0, "root: collect: %r" % err)
        check(d.stop() == 0, "exit status")
    with Daemon(conf="[control]\nmode = 0660\ngroup = nogroup\n") as d:
        st = os.stat(d.sock)
        check(stat.S_IMODE(st.st_mode) == 0o660, "default mode 0660")
        rc, _, err = d.ctl("collect", prefix=as_nobody)
        check(rc == 0, "nobody in control.group: collect: %r" % err)
        rc, _, err = d.ctl("stats", prefix=["setpriv", "--reuid=nobody",
                                            "--regid=daemon",
                                            "--clear-groups"])
        check(rc == 3, "outside the socket's group: rc %d %r" % (rc, err))
        check(d.stop() == 0, "exit status")
    print("ok")


main()
