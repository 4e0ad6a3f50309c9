/*
 * Fuzz target: the control protocol. The input's bytes go through the real
 * frame parser, fed in pieces of sizes the input chooses, and every complete
 * message through the real method table (method_dispatch) of a daemon-like
 * server (daemonctx.c). Every reply must be a well-formed varlink message,
 * and every call must get exactly one reply that does not continue, none
 * if one-way, and replies that continue only if it asked for "more"; a call
 * still running after two seconds (a long task) is left as a peer hanging up
 * leaves it.
 *
 * Input: byte 0 is flags (bit 0: the peer is privileged; bit 1: a small
 * frame limit, to reach the too-large path); byte 1 the piece size; the rest
 * is the stream.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemonctx.h"
#include "frame.h"
#include "reclaimd.h"
#include "varlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * How long a call answered later may take, in microseconds. A task can run
 * for up to an hour (churn duration_ms=3600000): past this the harness hangs
 * up, as a peer would, and the call is answered into the void (call_orphan).
 */
#define FUZZ_CALL_WAIT_US 2000000

/* Run the loops until the held call is answered; false if we hung up. */
static bool wait_answer(struct server *srv, struct conn *conn)
{
	uint64_t deadline = mono_us() + FUZZ_CALL_WAIT_US;

	while (conn->call != NULL && mono_us() < deadline) {
		fuzz_pump(srv);
		if (conn->call != NULL)
			usleep(100);
	}
	if (conn->call == NULL)
		return true;
	call_orphan(conn->call);
	conn->call = NULL;
	return false;
}

/* Replies a message must get: none for a valid one-way call, else one
 * that does not continue; *more set when replies that continue may come
 * before it (a call with "more", not one-way). */
static size_t expected_replies(const char *msg, bool *more)
{
	struct varlink_msg m;
	char *cause = NULL;
	size_t n;

	*more = false;
	if (varlink_parse_call(msg, &m, &cause) != 0) {
		free(cause);
		return 1; /* io.reclaim.InvalidRequest */
	}
	n = m.oneway ? 0 : 1;
	*more = m.more && !m.oneway;
	varlink_msg_finish(&m);
	return n;
}

/* Hand out every complete message, as control.c's conn_process does. */
static bool drain(struct server *srv, struct conn *conn, struct frame *f)
{
	size_t before, continued, len, want;
	bool more;
	char *msg;

	for (;;) {
		switch (frame_next(f, &msg, &len)) {
		case FRAME_PARTIAL:
			return true;
		case FRAME_TOO_LARGE:
			return false; /* control.c answers and closes */
		case FRAME_MESSAGE:
			before = conn->replies;
			continued = conn->continued;
			want = expected_replies(msg, &more);
			method_dispatch(srv, conn, msg);
			if (!wait_answer(srv, conn))
				return false; /* hung up on a long task */
			if (!more && conn->continued != continued) {
				fputs("fuzz: a reply that continues to a call "
				      "without \"more\"\n",
				      stderr);
				abort();
			}
			if (conn->replies - before != want) {
				fprintf(stderr,
					"fuzz: %zu replies to a call that "
					"wants %zu\n",
					conn->replies - before, want);
				abort();
			}
			break;
		}
	}
}

/* One input: a connection's whole stream. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server *srv = fuzz_server(false);
	struct conn conn = {0};
	struct frame f;
	size_t piece, off;

	if (size < 2)
		return 0;
	conn.privileged = data[0] & 1;
	frame_init(&f, (data[0] & 2) ? 64 : FRAME_MAX);
	piece = data[1] ? data[1] : size;
	for (off = 2; off < size; off += piece) {
		if (piece > size - off)
			piece = size - off;
		if (frame_feed(&f, data + off, piece) != 0)
			abort();
		if (!drain(srv, &conn, &f))
			break;
	}
	frame_finish(&f);
	return 0;
}
