/*
 * A daemon-like context for the fuzz targets and their replay tests: a
 * server with one worker (its event base, heap and mailbox), the watchdog
 * seam and the real method table, but no control socket and no threads. The
 * worker's loop is run in-line by fuzz_pump(), so an input is replayed the
 * same way every time.
 */
#ifndef RECLAIM_FUZZ_DAEMONCTX_H
#define RECLAIM_FUZZ_DAEMONCTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct server;
struct call;

/* The stand-in for control.c's connection: what method.c talks to. */
struct conn {
	struct call *call; /* held by control_hold, until control_call_done */
	bool privileged;
	size_t replies;	  /* messages sent back, but for continued */
	size_t continued; /* replies marked "continues" (RunTask, "more") */
	size_t reply_bytes;
};

/* One more -s override ("section.key=value"), before the first fuzz_server
 * (two at most). */
void fuzz_override(char *kv);
/* The shared server; http_fd >= 0 gives its worker an HTTP front. */
struct server *fuzz_server(bool http);
/* The loopback port the worker's HTTP front listens on (fuzz_server(true)). */
int fuzz_http_port(void);
/* Run the main and worker loops once each without blocking. */
void fuzz_pump(struct server *srv);
/* Called around each reply's check: the allocation-failure test (weak). */
void fuzz_alloc_pause(bool pause);
/* Whether the worker has requests in flight. */
unsigned fuzz_inflight(struct server *srv);

#endif
