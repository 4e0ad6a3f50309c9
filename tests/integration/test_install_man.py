"""The man pages cannot drift from the programs: every key of
conf/reclaimd.conf and of reclaimd's key table (daemon/config.c) is in
reclaimd.conf(5) with the same default, and no other key is; every
reclaimctl command with its usage, option and exit status is in
reclaimctl(1); every reclaimd option, exit status, socket name and
io.reclaim method and error the daemon describes is in reclaimd(8); and
every public function of libreclaim's headers is in libreclaim(3)."""

import glob
import os
import re

from harness import (Daemon, RECLAIMCTL, RECLAIMD, SRCDIR, check, fail, run)


def page(name):
    with open(os.path.join(SRCDIR, "doc", name + ".scd")) as f:
        return f.read()


def unescape(text):
    """scdoc source as a reader sees it: no \\ escapes."""
    return text.replace("\\", "")


def conf_keys():
    """(section.key, default) of every key in the shipped file."""
    keys, section = [], None
    with open(os.path.join(SRCDIR, "conf", "reclaimd.conf")) as f:
        for line in f:
            m = re.match(r"\[(\w+)\]", line)
            if m:
                section = m.group(1)
                continue
            m = re.match(r"#?(\w+) =\s*(.*?)\s*$", line)
            if m and section:
                keys.append(("%s.%s" % (section, m.group(1)), m.group(2)))
    check(len(keys) >= 15, "conf/reclaimd.conf: only %d keys" % len(keys))
    return keys


def check_conf_page():
    text = page("reclaimd.conf.5")
    entries = dict(re.findall(r"^\*(\w+\.\w+)\* =[^\n]*\n((?:\t[^\n]*\n)+)",
                              text, re.M))
    for key, default in conf_keys():
        check(key in entries, "reclaimd.conf(5) lacks %s" % key)
        body = " ".join(entries[key].split())
        want = "Default: *%s*" % default if default else "Default: empty"
        check(want in body, "reclaimd.conf(5): %s: want %r in %r" %
              (key, want, body))
    # And every key the daemon accepts, from its table in config.c.
    with open(os.path.join(SRCDIR, "daemon", "config.c")) as f:
        table = re.findall(r'KEY\("(\w+)",\s*"(\w+)",\s*"([^"]*)"', f.read())
    check(len(table) >= 15, "config.c's key table: %r" % table)
    for sec, name, default in table:
        key = "%s.%s" % (sec, name)
        check(key in entries, "reclaimd.conf(5) lacks %s (daemon/config.c)" %
              key)
        body = " ".join(entries[key].split())
        want = "Default: *%s*" % default if default else "Default: empty"
        check(want in body, "reclaimd.conf(5): %s: config.c's default is %r"
              % (key, default))
    known = set("%s.%s" % (sec, name) for sec, name, _ in table)
    shipped = set(k for k, _ in conf_keys())
    check(set(entries) <= known, "reclaimd.conf(5) documents keys reclaimd "
          "does not know: %s" % sorted(set(entries) - known))
    check(known <= shipped, "conf/reclaimd.conf lacks keys reclaimd knows: "
          "%s" % sorted(known - shipped))


def check_ctl_page():
    text = unescape(page("reclaimctl.1"))
    rc, out, _ = run([RECLAIMCTL, "--help"])
    check(rc == 0, "reclaimctl --help")
    listed = out.split("commands:\n", 1)[1].split("exit status")[0]
    names = re.findall(r"^  (\w+)", listed, re.M)
    # Each command's usage, exactly as its table entry spells it.
    usages = {}
    for src in glob.glob(os.path.join(SRCDIR, "ctl", "cmd-*.c")):
        with open(src) as f:
            m = re.search(r'\.name = "(\w+)",\s*\.usage = "([^"]*)"', f.read())
        if m:
            usages[m.group(1)] = m.group(2)
    check(len(names) >= 13 and set(names) == set(usages),
          "reclaimctl --help lists %r, sources %r" % (names, sorted(usages)))
    commands = sorted(usages.items())
    section = text.split("# COMMANDS", 1)[1].split("\n# ", 1)[0]
    heads = re.findall(r"^\*(\w+)\b[^\n]*\n\t", section, re.M)
    for name, usage in commands:
        check(name in heads, "reclaimctl(1) lacks the command %s" % name)
        head = re.search(r"^\*%s\b[^\n]*" % name, section, re.M).group(0)
        plain = head.replace("*", "").replace("_", "")
        check(usage.replace("_", "") in plain,
              "reclaimctl(1): %s: usage %r not in %r" % (name, usage, head))
    check(set(heads) <= set(n for n, _ in commands),
          "reclaimctl(1) documents commands reclaimctl lacks: %s" %
          sorted(set(heads) - set(n for n, _ in commands)))
    for opt in re.findall(r"(--\w+|-\w)\b", out.split("commands:")[0]):
        check("*%s*" % opt in text, "reclaimctl(1) lacks option %s" % opt)
    status = text.split("# EXIT STATUS", 1)[1].split("\n# ", 1)[0]
    for code in "0123":
        check("*%s*" % code in status, "reclaimctl(1): exit status %s" % code)


def check_daemon_page():
    text = unescape(page("reclaimd.8"))
    rc, out, _ = run([RECLAIMD, "--help"])
    check(rc == 0, "reclaimd --help")
    for opt in set(re.findall(r"(?<![\w-])(--[\w-]+|-\w)\b", out)):
        check("*%s*" % opt in text, "reclaimd(8) lacks option %s" % opt)
    status = text.split("# EXIT STATUS", 1)[1].split("\n# ", 1)[0]
    for code in "012":
        check("*%s*" % code in status, "reclaimd(8): exit status %s" % code)
    with Daemon() as d:
        v = d.varlink()
        reply = v.call("org.varlink.service.GetInterfaceDescription",
                       {"interface": "io.reclaim"})
        v.close()
        desc = reply["parameters"]["description"]
    methods = re.findall(r"^method (\w+)\(", desc, re.M)
    errors = re.findall(r"^error (\w+)", desc, re.M)
    check(len(methods) >= 12, "interface description: %r" % methods)
    for m in methods:
        check(re.search(r"^\*%s\*\(" % m, text, re.M),
              "reclaimd(8) lacks the method %s" % m)
    for e in errors:
        check("io.reclaim.%s" % e in text, "reclaimd(8) lacks io.reclaim.%s"
              % e)
    for key in ("control", "http", "metrics"):
        check("*%s*" % key in text, "reclaimd(8): socket name %s" % key)


def check_lib_page():
    text = unescape(page("libreclaim.3"))
    headers = glob.glob(os.path.join(SRCDIR, "lib", "include", "reclaim",
                                     "*.h"))
    names = set()
    for h in headers:
        with open(h) as f:
            src = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
        names |= set(re.findall(r"\b(rcl_\w+)\s*\(", src))
        names |= set(re.findall(r"extern const \w+ (rcl_\w+)", src))
    check(len(names) >= 60, "public API: only %d names" % len(names))
    missing = sorted(n for n in names
                     if not re.search(r"\b%s\b" % re.escape(n), text))
    if missing:
        fail("libreclaim(3) lacks %s" % ", ".join(missing))


def main():
    check_conf_page()
    check_ctl_page()
    check_daemon_page()
    check_lib_page()
    print("ok")


main()
