"""The bash completion file completes commands and their arguments."""

import os
import shutil

from harness import SRCDIR, check, run, skip


def complete(*words):
    script = os.path.join(SRCDIR, "ctl", "reclaimctl.bash")
    line = " ".join(words)
    prog = ('source "%s"; COMP_WORDS=(%s); COMP_CWORD=%d; _reclaimctl; '
            'echo "${COMPREPLY[*]}"' %
            (script, " ".join("'%s'" % w for w in words), len(words) - 1))
    rc, out, err = run(["bash", "-c", prog])
    check(rc == 0 and err == "", "completing %r: %r" % (line, err))
    return out.split()


def main():
    if shutil.which("bash") is None:
        skip("bash is not installed")
    check(complete("reclaimctl", "co") == ["collect"], "co")
    check("census" in complete("reclaimctl", "c"), "c")
    check(len(complete("reclaimctl", "")) == 13, "all 13 commands")
    check(complete("reclaimctl", "--js") == ["--json"], "--json")
    check(complete("reclaimctl", "collect", "") == ["0", "1", "2"], "GEN")
    check(complete("reclaimctl", "debug", "") == ["leak"], "debug")
    check(complete("reclaimctl", "debug", "leak", "o") == ["on", "off"],
          "debug leak")
    check(complete("reclaimctl", "-S", "/tmp/x", "top", "--o") ==
          ["--once"], "top after -S")
    print("ok")


main()
