"""libreclaim's ABI: every function and object its public headers declare
is exported by the shared library, and nothing of the library's own
internals is. (A declaration of an exported name inside the library's
hidden-visibility region once hid rcl_list_type from every user.)"""

import glob
import os
import re
import subprocess
import sys

SRCDIR = os.environ["SRCDIR"]
LIBRARY = os.environ["LIBRECLAIM"]


def public_names():
    names = set()
    for h in glob.glob(os.path.join(SRCDIR, "lib", "include", "reclaim",
                                    "*.h")):
        with open(h) as f:
            src = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
        names |= set(re.findall(r"\b(rcl_\w+)\s*\(", src))
        names |= set(re.findall(r"extern const \w+ (rcl_\w+)", src))
    return names


def exported():
    out = subprocess.run(["nm", "-D", "--defined-only", LIBRARY],
                         check=True, capture_output=True, text=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def main():
    names, syms = public_names(), exported()
    failed = False
    if len(names) < 50:
        print("FAIL: only %d public names found in the headers" % len(names))
        failed = True
    for n in sorted(names - syms):
        print("FAIL: %s is declared in <reclaim/...> but not exported" % n)
        failed = True
    private = sorted(s for s in syms
                     if not s.startswith("rcl_") and re.match(r"[a-z]", s)
                     and s not in ("_init", "_fini"))
    for s in private:
        print("FAIL: %s is exported but is not public API" % s)
        failed = True
    if failed:
        sys.exit(1)
    print("ok: %d public names, all exported; nothing else is" % len(names))


if __name__ == "__main__":
    main()
