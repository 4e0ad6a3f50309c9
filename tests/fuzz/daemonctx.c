/*
 * The daemon-like context the fuzz targets run in (see daemonctx.h), and the
 * control transport's functions that method.c, server.c and reload.c call:
 * here they record replies instead of writing to a socket, and check that
 * every reply is a well-formed varlink message.
 */
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemonctx.h"
#include "reclaimd.h"
#include "varlink.h"

static struct server *fuzz_srv;
static int fuzz_port = -1;

/* -s overrides: no sockets of the daemon's own, no watchdog thread, quiet;
 * two more slots for fuzz_override. */
#define FUZZ_NOVERRIDES 7
static char *fuzz_overrides[FUZZ_NOVERRIDES + 2] = {
    "http.listen=off",	      "metrics.listen=off",
    "http.workers=1",	      "watchdog.enabled=false",
    "log.level=crit",	      "control.socket=/nonexistent/reclaim-fuzz",
    "heap.young_bytes=1MiB",
};
static struct config_source fuzz_src = {
    .path = "/dev/null",
    .overrides = fuzz_overrides,
    .noverrides = FUZZ_NOVERRIDES,
};

/* One more -s override, before the first fuzz_server. */
void fuzz_override(char *kv)
{
	if (fuzz_src.noverrides ==
	    sizeof fuzz_overrides / sizeof fuzz_overrides[0])
		abort();
	fuzz_overrides[fuzz_src.noverrides++] = kv;
}

/* A worker answered: as server.c's inbox, there are no stops here. */
static void fuzz_inbox(struct wcmd *cmd, void *arg)
{
	if (cmd->type == WCMD_PROGRESS)
		method_run_task_progress(cmd); /* as server.c's server_inbox */
	else if (cmd->type != WCMD_STOP)
		fanout_reply(cmd);
}

/* Die with a message: a broken set-up is not a finding. */
static void fuzz_die(const char *what, char *cause)
{
	fprintf(stderr, "fuzz: %s: %s\n", what, cause ? cause : "?");
	abort();
}

/* A loopback listening socket on a free port, for the worker's HTTP front. */
static int fuzz_listen(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		fuzz_die("listen", NULL);
	fuzz_port = ntohs(sin.sin_port);
	return fd;
}

/* Build the server once; later calls return it. */
struct server *fuzz_server(bool http)
{
	struct server *srv;
	struct rlimit rl;
	char *cause = NULL;
	int g;

	if (fuzz_srv != NULL)
		return fuzz_srv;
	/* as reclaimd's main() does, so that the daemon fuzzed has the
	 * descriptors the real one has (http.max_connections is fitted to
	 * them there) */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	srv = calloc(1, sizeof *srv);
	srv->src = &fuzz_src;
	srv->cfg = config_load(&fuzz_src, &cause);
	if (srv->cfg == NULL)
		fuzz_die("config", cause);
	log_set_level(srv->cfg->log_level);
	srv->started_us = mono_us();
	srv->fds.control = srv->fds.metrics = -1;
	srv->fds.http = http ? fuzz_listen() : -1;
	for (g = 0; g < RCL_GENERATIONS; g++)
		srv->thresholds[g] = (size_t)srv->cfg->heap_thresholds[g];
	srv->young_bytes = (size_t)srv->cfg->heap_young_bytes;
	srv->base = event_base_new();
	srv->inbox = mailbox_create(srv->base, fuzz_inbox, srv, &cause);
	if (srv->inbox == NULL)
		fuzz_die("mailbox", cause);
	srv->nworkers = 1;
	srv->http_conns_max = (size_t)srv->cfg->http_max_connections;
	srv->workers = calloc(1, sizeof *srv->workers);
	srv->stops = calloc(1, sizeof *srv->stops);
	srv->workers[0] = worker_create(srv, 0, &cause);
	if (srv->workers[0] == NULL)
		fuzz_die("worker", cause);
	srv->report = report_create(srv); /* as server_create */
	srv->watch = memwatch_create(srv, &cause);
	if (srv->watch == NULL)
		fuzz_die("watchdog", cause);
	fuzz_srv = srv;
	return srv;
}

/* The HTTP front's port. */
int fuzz_http_port(void)
{
	return fuzz_port;
}

/* One pass of each loop, main thread's first (it posts to the worker). */
void fuzz_pump(struct server *srv)
{
	size_t i;

	event_base_loop(srv->base, EVLOOP_NONBLOCK);
	for (i = 0; i < srv->nworkers; i++)
		event_base_loop(srv->workers[i]->base, EVLOOP_NONBLOCK);
	event_base_loop(srv->base, EVLOOP_NONBLOCK);
}

/* Requests the worker counts as in flight. */
unsigned fuzz_inflight(struct server *srv)
{
	return srv->workers[0]->inflight;
}

/* The allocation-failure test stops counting while a reply is checked. */
__attribute__((weak)) void fuzz_alloc_pause(bool pause)
{
}

/*
 * A reply: it must parse as a varlink reply, or the daemon broke it. NULL
 * (the reply could not be encoded) would crash the real control_send, which
 * takes strlen(text).
 */
void control_send(struct conn *conn, const char *text)
{
	struct varlink_msg m;
	char *cause = NULL;

	if (text == NULL) {
		fputs("fuzz: control_send(NULL): control.c would crash\n",
		      stderr);
		abort();
	}
	fuzz_alloc_pause(true);
	if (varlink_parse_reply(text, &m, &cause) != 0) {
		fprintf(stderr, "fuzz: the daemon sent a bad reply (%s): %s\n",
			cause, text);
		abort();
	}
	if (m.continues)
		conn->continued++;
	else
		conn->replies++;
	varlink_msg_finish(&m);
	fuzz_alloc_pause(false);
	conn->reply_bytes += strlen(text) + 1;
}

/* A call answered later: remember it until call_finish says it is done. */
void control_hold(struct conn *conn, struct call *call)
{
	if (conn->call != NULL) {
		fputs("fuzz: a second call held on one connection\n", stderr);
		abort();
	}
	conn->call = call;
}

/* The held call was answered. */
void control_call_done(struct conn *conn)
{
	conn->call = NULL;
}

/* Whether the peer may change state: the input decides. */
bool control_privileged(const struct conn *conn)
{
	return conn->privileged;
}

/* Nothing waits unwritten: progress replies are always queued. */
bool control_backlogged(const struct conn *conn)
{
	return false;
}

/* The peer's uid, for log lines. */
uid_t control_peer_uid(const struct conn *conn)
{
	return conn->privileged ? 0 : 65534;
}

/* server.c refers to it; this context has no control socket. */
struct control *control_create(struct server *srv, int fd, char **cause)
{
	*cause = strdup("fuzz: no control socket");
	return NULL;
}

/* Nothing to free: there is no listener. */
void control_destroy(struct control *c)
{
}

/* Nothing to stop: there is no listener. */
void control_stop_accepting(struct control *c)
{
}

/* Nothing is ever queued: there is no control connection. */
bool control_flushed(struct control *c)
{
	return true;
}

/* Reload applies control.*: nothing to apply here. */
void control_configure(struct control *c, const struct config *cfg)
{
}
