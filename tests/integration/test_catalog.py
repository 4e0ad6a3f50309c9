"""The journal's message catalog (systemd/reclaimd.catalog): journalctl
imports it (--update-catalog in a root of its own) and lists one entry for
each MESSAGE_ID the daemon logs (LOG_ID_* in daemon/reclaimd.h), no more;
each names reclaim and reclaimd(8), and every @FIELD@ its text shows is a
field the daemon sets (log_field in daemon/*.c)."""

import glob
import os
import re
import shutil
import tempfile

from harness import SRCDIR, check, run, skip


def main():
    if not shutil.which("journalctl"):
        skip("journalctl (systemd) is not installed")
    with open(os.path.join(SRCDIR, "daemon/reclaimd.h")) as f:
        ids = dict(re.findall(r'#define LOG_ID_(\w+) "([0-9a-f]{32})"',
                              f.read()))
    check(len(ids) >= 10, "LOG_ID_* not found: %r" % ids)
    fields = set()
    for src in glob.glob(os.path.join(SRCDIR, "daemon/*.c")):
        with open(src) as f:
            fields |= set(re.findall(r'log_field\(\s*&?\w+,\s*"(\w+)"',
                                     f.read()))
    catalog = os.path.join(SRCDIR, "systemd/reclaimd.catalog")
    root = tempfile.mkdtemp(prefix="reclaim-catalog-")
    try:
        d = os.path.join(root, "usr/lib/systemd/catalog")
        os.makedirs(d)
        shutil.copy(catalog, d)
        rc, out, err = run(["journalctl", "--root", root, "--update-catalog"])
        check(rc == 0 and not err.strip(),
              "journalctl --update-catalog: rc %d: %s" % (rc, err))
        rc, out, err = run(["journalctl", "--root", root, "--list-catalog"])
        check(rc == 0, "--list-catalog: %s" % err)
        listed = dict(l.split(" ", 1) for l in out.splitlines())
        check(set(listed) == set(ids.values()),
              "the catalog lists %s, the daemon logs %s" % (
                  sorted(listed), sorted(ids.values())))
        for name, mid in sorted(ids.items()):
            check(listed[mid].startswith("reclaim: "),
                  "%s: %r" % (name, listed[mid]))
            rc, text, err = run(["journalctl", "--root", root,
                                 "--dump-catalog", mid])
            check(rc == 0 and "Documentation: man:reclaimd(8)" in text,
                  "%s: no Documentation: man:reclaimd(8):\n%s" % (name, text))
            unknown = set(re.findall(r"@(\w+)@", text)) - fields
            check(not unknown, "%s: %s shown but never logged" % (
                name, sorted(unknown)))
        print("%d entries: %s" % (len(ids), ", ".join(sorted(ids))))
    finally:
        shutil.rmtree(root)
    print("ok")


main()
