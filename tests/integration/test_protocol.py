"""Bad input on the control socket: malformed JSON, wrong types, unknown
methods and parameters, a message over 64 KiB, half a message then a stall,
hundreds of idle connections. Each gets a varlink error or a closed
connection, and another client keeps being served throughout. Issue 14: a
string holding \\u0000, a key given twice, and SetThresholds' young_bytes
range, whose message named a maximum it then refused."""

import re
import socket
import time

from harness import Daemon, Varlink, check, fail, wait_for


def served(d):
    """Another client is answered."""
    v = d.varlink()
    r = v.call("io.reclaim.Stats")
    v.close()
    check(r is not None and "parameters" in r and "error" not in r,
          "another client was not served: %r" % r)


def expect_error(v, name, what):
    r = v.recv()
    check(r is not None, what + ": connection closed, want " + name)
    check(r.get("error") == name, "%s: got %r, want %s" % (what, r, name))
    return r


def test_info(d):
    v = d.varlink()
    r = v.call("org.varlink.service.GetInfo")["parameters"]
    check("io.reclaim" in r["interfaces"], "GetInfo: %r" % r)
    r = v.call("org.varlink.service.GetInterfaceDescription",
               {"interface": "io.reclaim"})["parameters"]["description"]
    for m in ["Stats", "Collect", "SetDebug", "Garbage", "Census", "Snapshot",
              "Diff", "Watchdog", "SetThresholds", "Tasks", "RunTask",
              "Reload"]:
        check("method %s(" % m in r, "description lacks method " + m)
    check("error PermissionDenied" in r, "description lacks errors")
    check(r.startswith("# ") and "interface io.reclaim" in r, "header")
    v.send("org.varlink.service.GetInterfaceDescription",
           {"interface": "com.example.nothing"})
    expect_error(v, "org.varlink.service.InterfaceNotFound", "unknown iface")
    v.close()


def test_bad_messages(d):
    v = d.varlink()
    v.send_raw(b"{this is not json\0")
    expect_error(v, "io.reclaim.InvalidRequest", "malformed JSON")
    v.send_raw(b"[1,2,3]\0")
    expect_error(v, "io.reclaim.InvalidRequest", "not an object")
    v.send_raw(b'{"method": 42}\0')
    expect_error(v, "io.reclaim.InvalidRequest", "method not a string")
    v.send_raw(b'{"method": "io.reclaim.Stats", "parameters": [1]}\0')
    expect_error(v, "io.reclaim.InvalidRequest", "parameters not an object")
    v.send("io.reclaim.Nothing")
    r = expect_error(v, "org.varlink.service.MethodNotFound", "unknown")
    check(r["parameters"]["method"] == "io.reclaim.Nothing", "method param")
    v.send("com.example.Nothing")
    expect_error(v, "org.varlink.service.InterfaceNotFound", "unknown iface")
    v.send("io.reclaim.Collect", {"generation": "two"})
    r = expect_error(v, "org.varlink.service.InvalidParameter", "wrong type")
    check(r["parameters"]["parameter"] == "generation", "parameter name")
    v.send("io.reclaim.Collect", {"generation": 7})
    expect_error(v, "org.varlink.service.InvalidParameter", "out of range")
    v.send("io.reclaim.Collect", {"generation": 1.5})
    expect_error(v, "org.varlink.service.InvalidParameter", "not integer")
    v.send("io.reclaim.SetThresholds", {"thresholds": [1, "x", 3]})
    expect_error(v, "org.varlink.service.InvalidParameter", "thresholds")
    v.send("io.reclaim.SetDebug", {"leak": "yes"})
    expect_error(v, "org.varlink.service.InvalidParameter", "leak type")
    v.send("io.reclaim.Stats", {"bogus": 1})
    expect_error(v, "org.varlink.service.InvalidParameter", "unknown param")
    v.send("io.reclaim.RunTask", {"task": "x", "args": {"a": 1}})
    expect_error(v, "org.varlink.service.InvalidParameter", "args type")
    # Still the same connection: it keeps working after every error.
    r = v.call("io.reclaim.Stats")
    check("parameters" in r and "error" not in r, "after errors: %r" % r)
    v.close()
    served(d)


def test_strict_json(d):
    """What cJSON takes but a C string or a first-match lookup would read
    otherwise: "io.reclaim.Stats\\u0000garbage" ran Stats, and a second
    "method" key was ignored."""
    v = d.varlink()
    for raw, what in (
            (b'{"method":"io.reclaim.Stats\\u0000garbage"}', "NUL in method"),
            (b'{"method":"io.reclaim.Stats","parameters":'
             b'{"x\\u0000y":1}}', "NUL in a key"),
            (b'{"method":"io.reclaim.RunTask","parameters":{"task":"tree",'
             b'"args":{"depth":"2\\u0000"}}}', "NUL in a nested value")):
        v.send_raw(raw + b"\0")
        r = expect_error(v, "io.reclaim.InvalidRequest", what)
        check("\\u0000" in r["parameters"]["reason"], "%s: %r" % (what, r))
    for raw, key in (
            (b'{"method":"io.reclaim.Stats","method":"io.reclaim.Collect"}',
             "method"),
            (b'{"method":"io.reclaim.Collect","parameters":'
             b'{"generation":0,"generation":2}}', "generation"),
            (b'{"method":"io.reclaim.Stats","parameters":{},'
             b'"parameters":{}}', "parameters")):
        v.send_raw(raw + b"\0")
        r = expect_error(v, "io.reclaim.InvalidRequest", "duplicate " + key)
        check(r["parameters"]["reason"] == 'duplicate key "%s"' % key,
              "duplicate %s: %r" % (key, r))
    # An escaped backslash before u0000 is not a NUL; other escapes pass.
    r = v.call("io.reclaim.RunTask", {"task": "no\\u0000such\n"})
    check(r.get("error") != "io.reclaim.InvalidRequest", "\\\\u0000: %r" % r)
    r = v.call("io.reclaim.Stats")
    check("parameters" in r and "error" not in r, "after errors: %r" % r)
    v.close()
    served(d)


def test_young_bytes_range(d):
    """The range the error names is the range taken: it said "0 to
    18446744073709551615", and that number was refused."""
    v = d.varlink()
    v.send("io.reclaim.SetThresholds", {"young_bytes": -1})
    r = expect_error(v, "org.varlink.service.InvalidParameter", "young -1")
    m = re.search(r"from 0 to (\d+)", r["parameters"].get("reason", "") or
                  str(r))
    check(m is not None, "young_bytes range not named: %r" % r)
    top = int(m.group(1))
    r = v.call("io.reclaim.SetThresholds", {"young_bytes": top})
    check("error" not in r and r["parameters"]["young_bytes"] == top,
          "the maximum named, %d, refused: %r" % (top, r))
    v.send("io.reclaim.SetThresholds", {"young_bytes": top + 2})
    expect_error(v, "org.varlink.service.InvalidParameter", "past the max")
    r = v.call("io.reclaim.SetThresholds", {"young_bytes": 8 << 20})
    check("error" not in r, "back to 8 MiB: %r" % r)
    v.close()


def test_pipelined(d):
    """Several calls in one write, answered in order (Collect is async)."""
    v = d.varlink()
    msgs = [b'{"method":"io.reclaim.Collect","parameters":{"generation":0}}',
            b'{"method":"io.reclaim.Tasks"}',
            b'{"method":"io.reclaim.Census"}',
            b'{"method":"io.reclaim.Stats","oneway":true}',
            b'{"method":"org.varlink.service.GetInfo"}']
    v.send_raw(b"\0".join(msgs) + b"\0")
    r = [v.recv() for _ in range(4)]
    check(r[0]["parameters"]["generation"] == 0, "1st: %r" % r[0])
    check("tasks" in r[1]["parameters"], "2nd: %r" % r[1])
    check("types" in r[2]["parameters"], "3rd: %r" % r[2])
    check("vendor" in r[3]["parameters"], "oneway was answered: %r" % r[3])
    # Split one message across writes: never "one read is one message".
    for part in [b'{"meth', b'od": "io.recl', b'aim.Tasks"}', b"\0"]:
        v.send_raw(part)
        time.sleep(0.02)
    check("tasks" in v.recv()["parameters"], "split message")
    v.close()


def test_too_large(d):
    v = d.varlink()
    big = b'{"method":"io.reclaim.Stats","parameters":{"x":"' + \
        b"a" * (70 * 1024) + b'"}}\0'
    try:
        v.send_raw(big)
    except (BrokenPipeError, ConnectionResetError):
        pass
    r = v.recv()
    check(r is not None and r.get("error") == "io.reclaim.InvalidRequest" and
          "larger" in r["parameters"]["reason"], "over 64 KiB: %r" % r)
    check(v.recv() is None, "connection stays open after an oversized one")
    v.close()
    served(d)


def test_stall(d):
    """Half a message, then nothing: closed after control.idle_timeout."""
    v = d.varlink()
    v.send_raw(b'{"method": "io.reclaim.Sta')
    start = time.monotonic()
    served(d)
    v.sock.settimeout(10)
    check(v.recv() is None, "a stalled peer got an answer")
    took = time.monotonic() - start
    check(0.5 < took < 5, "stalled peer closed after %.1f s, idle 1s" % took)
    v.close()


def test_idle_crowd(d):
    """300 idle connections (limit 64): an operator still gets in."""
    crowd = []
    for _ in range(300):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.sock)
        crowd.append(s)
    served(d)
    closed = 0
    for s in crowd:
        s.settimeout(0.01)
        try:
            if s.recv(1) == b"":
                closed += 1
        except (socket.timeout, ConnectionResetError):
            pass
        s.close()
    check(closed >= 200, "only %d of 300 idle connections closed" % closed)
    served(d)


def main():
    with Daemon(conf="[control]\nidle_timeout = 1s\n") as d:
        test_info(d)
        test_bad_messages(d)
        test_strict_json(d)
        test_young_bytes_range(d)
        test_pipelined(d)
        test_too_large(d)
        test_stall(d)
        test_idle_crowd(d)
        served(d)
        check(d.proc.poll() is None, "reclaimd died")
        check(d.stop() == 0, "reclaimd exit status")
    print("ok")


main()
