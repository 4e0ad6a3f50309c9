"""Request smuggling (RFC 9112 sections 5.1, 6.1, 6.3, 7.1), on raw
sockets. evhttp 2.1 read each ambiguous shape below its own way (the first
of two Content-Length fields, "+5" as 5, a chunk size "0x5" as 5, an
unknown Transfer-Encoding as no body, "Content-Length : 5" as no length),
so a request hidden in the body reached a task; now each is answered 400
and its connection closed, and nothing after it is read. A legal chunk
extension ("5;foo=bar"), answered 413 before, is accepted. A bare CR or LF
in the head, and a request line evhttp would read as another version than
ours, are refused too (RFC 9112 2.2, 3). Each refused
shape carries a second request ("GET /smuggled") in its body or after it:
exactly one reply may come back, and no request may reach a task (the
daemon's request count; the 400 is evhttp's)."""

import socket

from harness import Daemon, check

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


def post(fields, body, then=SMUGGLED):
    return (b"POST / HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n" + body +
            then)


REFUSED = {
    "two Content-Length":
        post(b"Content-Length: 5\r\nContent-Length: 41\r\n", b"hello"),
    "Content-Length +5": post(b"Content-Length: +5\r\n", b"hello"),
    "Content-Length 0x5": post(b"Content-Length: 0x5\r\n", b"hello"),
    "Content-Length list": post(b"Content-Length: 5, 5\r\n", b"hello"),
    "space before the colon": post(b"Content-Length : 5\r\n", b"hello"),
    "tab in a field name": post(b"Content-Length\t: 5\r\n", b"hello"),
    "folded field": post(b"X-A: 1\r\n Content-Length: 5\r\n", b"hello"),
    "chunk size 0x5": post(b"Transfer-Encoding: chunked\r\n",
                           b"0x5\r\nhello\r\n0\r\n\r\n"),
    "chunk size +5": post(b"Transfer-Encoding: chunked\r\n",
                          b"+5\r\nhello\r\n0\r\n\r\n"),
    "chunk size with space": post(b"Transfer-Encoding: chunked\r\n",
                                  b"5 \r\nhello\r\n0\r\n\r\n"),
    "no CRLF after chunk data": post(b"Transfer-Encoding: chunked\r\n",
                                     b"5\r\nhelloX\r\n0\r\n\r\n"),
    "unknown Transfer-Encoding": post(b"Transfer-Encoding: gzip\r\n", b""),
    "chunked, chunked": post(b"Transfer-Encoding: chunked, chunked\r\n",
                             b"5\r\nhello\r\n0\r\n\r\n"),
    "Transfer-Encoding twice": post(
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        b"5\r\nhello\r\n0\r\n\r\n"),
    "Transfer-Encoding and Content-Length": post(
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        b"5\r\nhello\r\n0\r\n\r\n"),
    "Transfer-Encoding in HTTP/1.0":
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
    "a body on HEAD":
        b"HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 36\r\n\r\n" +
        SMUGGLED,
    "NUL in a field": post(b"X-A: a\0b\r\n", b""),
    # a bare CR or LF ends a field line for some readers, not for others
    "bare CR in a field": post(b"X-A: a\rContent-Length: 36\r\n", b""),
    "bare LF in the head": post(b"X-A: a\nContent-Length: 36\r\n", b""),
    "control byte in a field": post(b"X-A: a\x0bb\r\n", b""),
    # evhttp strips trailing spaces and reads "HTTP/%d.%d": these were 1.0
    # to it, and so Transfer-Encoding in HTTP/1.0 went through decoded
    "version with a trailing space":
        b"POST / HTTP/1.0 \r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
    "version HTTP/1.00":
        b"POST / HTTP/1.00\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
    "version HTTP/01.0":
        b"POST / HTTP/01.0\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
    "two spaces in the request line":
        b"POST  / HTTP/1.1\r\nHost: x\r\n\r\n" + SMUGGLED,
}

ACCEPTED = {
    "chunk extension": post(b"Transfer-Encoding: chunked\r\n",
                            b"5;foo=bar\r\nhello\r\n0\r\n\r\n", b""),
    "chunk extensions and a trailer": post(
        b"Transfer-Encoding: Chunked\r\n",
        b"3 ;a=1;b=\"x y\"\r\nhel\r\n2\r\nlo\r\n0\r\nX-T: 1\r\n\r\n", b""),
    "two equal Content-Length":
        post(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello", b""),
    "plain Content-Length": post(b"Content-Length: 5\r\n", b"hello", b""),
}


def exchange(port, data):
    """Send data, read until the daemon closes or 2 s pass in silence; the
    status lines of the replies."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(2)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return [line for line in out.split(b"\r\n") if line.startswith(b"HTTP/1.")]


def main():
    with Daemon() as d:
        # Refused first: no request of theirs may be counted.
        for name, data in REFUSED.items():
            replies = exchange(d.http_port, data)
            check(len(replies) == 1 and b" 400 " in replies[0] + b" ",
                  "%s: replies %r (want one 400, nothing smuggled)" %
                  (name, replies))
        for name, data in ACCEPTED.items():
            replies = exchange(d.http_port, data)
            check(len(replies) == 1 and b" 200 " in replies[0] + b" ",
                  "%s: replies %r (want 200)" % (name, replies))
        stats = d.ctl_json("stats")
        check(stats["http"]["requests_total"] == len(ACCEPTED),
              "requests that reached a task: %r" % stats["http"])
        print("%d ambiguous shapes refused with 400, %d legal ones served" %
              (len(REFUSED), len(ACCEPTED)))
    print("ok")


main()
