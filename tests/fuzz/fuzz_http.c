/*
 * Fuzz target: the HTTP front. The input is what a client sends on one
 * connection; it reaches the worker's real evhttp server and http.c's route
 * table (the built-in routes) over a loopback connection, with the worker's
 * loop run in-line. Whatever the bytes, the answer is HTTP or nothing, the
 * connection ends once the client has sent everything, and no request stays
 * counted as in flight (a drain would wait for it).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemonctx.h"
#include "reclaimd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* How long the server may take to answer and close, in microseconds. */
#define FUZZ_HTTP_DEADLINE_US 10000000
#define FUZZ_PUMP_MAX 10000

/*
 * A client connection to the worker's HTTP front, made without blocking:
 * the worker accepts only while we pump its loop (one thread runs both
 * ends), so a blocking connect waited on a full accept queue with no one
 * to empty it, until libFuzzer's SIGALRM (every second, for -timeout) cut
 * it short with EINTR.
 */
static int connect_front(struct server *srv)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	uint64_t deadline = mono_us() + FUZZ_HTTP_DEADLINE_US;
	socklen_t len = sizeof(int);
	int err = 0;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)fuzz_http_port());
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
		err = errno;
		while ((err == EINPROGRESS || err == EINTR) &&
		       mono_us() < deadline) {
			fuzz_pump(srv);
			if (poll(&(struct pollfd){.fd = fd, .events = POLLOUT},
				 1, 1) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0)
				break;
			err = EINPROGRESS;
		}
	}
	if (fd < 0 || err != 0) {
		fprintf(stderr, "fuzz: connect: %s\n",
			strerror(fd < 0 ? errno : err));
		abort();
	}
	return fd;
}

/* Send the input while the worker's loop runs, then half-close. */
static void send_all(struct server *srv, int fd, const uint8_t *data,
		     size_t size)
{
	size_t off = 0;
	ssize_t n;

	while (off < size) {
		n = write(fd, data + off, size - off);
		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno != EAGAIN)
			break; /* the server closed early: fine */
		fuzz_pump(srv);
	}
	shutdown(fd, SHUT_WR);
}

/* Read the answer until the server closes; abort if it never does. */
static void read_answer(struct server *srv, int fd)
{
	uint64_t deadline = mono_us() + FUZZ_HTTP_DEADLINE_US;
	char buf[4096], head[64] = "";
	size_t got = 0;
	ssize_t n;

	for (;;) {
		fuzz_pump(srv);
		n = read(fd, buf, sizeof buf);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		if (n > 0) {
			if (got < sizeof head)
				memcpy(head + got, buf,
				       sizeof head - got < (size_t)n
					   ? sizeof head - got
					   : (size_t)n);
			got += (size_t)n;
			continue;
		}
		if (mono_us() > deadline) {
			fputs("fuzz: the server never closed\n", stderr);
			abort();
		}
		poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1, 1);
	}
	if (getenv("FUZZ_VERBOSE") != NULL)
		printf("  answer: %zu bytes: %.*s\n", got,
		       (int)strcspn(head, "\r\n"), got ? head : "");
	/* evhttp echoes the request's version: "HTTP/0.0 200 OK" is its own. */
	if (got > 0 && (got < 5 || memcmp(head, "HTTP/", 5) != 0)) {
		fputs("fuzz: an answer that is not HTTP\n", stderr);
		abort();
	}
}

/* One input: one client connection's bytes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server *srv = fuzz_server(true);
	int fd = connect_front(srv), i;

	send_all(srv, fd, data, size);
	read_answer(srv, fd);
	close(fd);
	for (i = 0; fuzz_inflight(srv) > 0 && i < FUZZ_PUMP_MAX; i++)
		fuzz_pump(srv);
	if (fuzz_inflight(srv) > 0) {
		fprintf(stderr, "fuzz: %u requests still in flight\n",
			fuzz_inflight(srv));
		abort();
	}
	return 0;
}
