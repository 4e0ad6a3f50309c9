/*
 * The main thread: listeners, workers, the control server, the metrics
 * listener, the watchdog and sd_notify. It talks to workers only through
 * their mailboxes and reads the stats they publish.
 */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "reclaimd.h"
#include "xmalloc.h"

/* How often STATUS= is refreshed. */
#define SERVER_STATUS_US 2000000

/* Once the workers stopped, how long the answers they sent last (RunTask's
 * io.reclaim.ShuttingDown) may take to be written, checked every
 * SERVER_FLUSH_EVERY_US: they are short, and a peer that reads nothing
 * must not hold the exit. */
#define SERVER_FLUSH_US 1000000
#define SERVER_FLUSH_EVERY_US 10000

/* Descriptors kept from HTTP connections, besides control.max_connections:
 * the daemon's own (log, listeners, the main loop) and those of metrics
 * scrapers, plugins, tasks and reports; and each worker's: its loop, its
 * mailbox, its copy of the listener (8), and the 16 connections it may be
 * closing to make room (http-conn.c's HCONN_EVICTING). */
#define SERVER_FD_RESERVE 128
#define SERVER_FD_WORKER 24

/* Log where a socket listens. */
static void server_log_listen(const char *what, int fd, bool activated)
{
	char buf[256];

	log_info("%s: %s %s", what, activated ? "activated on" : "listening on",
		 listen_describe(fd, buf, sizeof buf));
}

/* Take the activated sockets, bind the others. */
static int server_listen(struct server *srv, char **cause)
{
	struct activated *a = &srv->fds;
	const struct config *cfg = srv->cfg;
	bool act[3];

	if (listen_activated(a, cause) != 0)
		return -1;
	act[0] = a->control >= 0;
	act[1] = a->http >= 0;
	act[2] = a->metrics >= 0;
	if (a->control < 0) {
		a->control = listen_unix(cfg->control_socket, cfg, cause);
		if (a->control < 0)
			return -1;
		srv->own_socket = xstrdup(cfg->control_socket);
	}
	if (a->http < 0 && *cfg->http_listen != '\0' &&
	    (a->http = listen_tcp(cfg->http_listen, cause)) < 0)
		return -1;
	if (a->metrics < 0 && *cfg->metrics_listen != '\0' &&
	    (a->metrics = listen_tcp(cfg->metrics_listen, cause)) < 0)
		return -1;
	server_log_listen("control", a->control, act[0]);
	if (a->http >= 0)
		server_log_listen("http", a->http, act[1]);
	if (a->metrics >= 0)
		server_log_listen("metrics", a->metrics, act[2]);
	return 0;
}

/* Leave the loop once the control answers are written out, or after
 * SERVER_FLUSH_US. */
static void server_flush(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	if (!control_flushed(srv->control) && mono_us() < srv->flush_deadline)
		return;
	event_base_loopbreak(srv->base);
}

/* Every worker stopped: the answers they sent back are handled (the mailbox
 * is in order), but perhaps not yet written; leaving the loop now would
 * close their connections unanswered. Out of memory for the timer, leave. */
static void server_finish(struct server *srv)
{
	struct timeval tv = {0, SERVER_FLUSH_EVERY_US};

	srv->flush_deadline = mono_us() + SERVER_FLUSH_US;
	srv->flush = event_new(srv->base, -1, EV_PERSIST, server_flush, srv);
	if (srv->flush == NULL || event_add(srv->flush, &tv) != 0)
		event_base_loopbreak(srv->base);
}

/* A worker answered: a stop ends a worker, a progress report goes to its
 * RunTask caller, anything else is a fan-out's. */
static void server_inbox(struct wcmd *cmd, void *arg)
{
	struct server *srv = arg;

	if (cmd->type == WCMD_PROGRESS) {
		method_run_task_progress(cmd);
		return;
	}
	if (cmd->type != WCMD_STOP) {
		fanout_reply(cmd);
		return;
	}
	worker_join(cmd->worker);
	log_worker(LOG_DEBUG, cmd->worker->id, "worker %d stopped",
		   cmd->worker->id);
	if (--srv->running == 0)
		server_finish(srv);
}

/* SIGTERM, SIGINT: drain and exit 0. */
void server_stop(struct server *srv)
{
	size_t i;

	if (srv->stopping)
		return;
	srv->stopping = true;
	log_info("stopping: draining requests (at most %llu ms)",
		 (unsigned long long)(srv->cfg->http_drain_timeout_us / 1000));
	notify_send("STOPPING=1\nSTATUS=stopping: draining requests");
	control_stop_accepting(srv->control);
	metrics_destroy(srv->metrics);
	srv->metrics = NULL;
	if (srv->fds.http >= 0)
		close(srv->fds.http); /* the workers close their copies */
	srv->fds.http = -1;
	if (srv->running == 0) {
		event_base_loopbreak(srv->base);
		return;
	}
	for (i = 0; i < srv->nworkers; i++) {
		srv->stops[i].type = WCMD_STOP;
		srv->stops[i].worker = srv->workers[i];
		srv->stops[i].in.drain_us = srv->cfg->http_drain_timeout_us;
		worker_post(srv->workers[i], &srv->stops[i]);
	}
}

/* Signals, handled on the main loop. */
static void server_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	char *cause = NULL;

	if (sig != SIGHUP) {
		log_info("%s received", strsignal((int)sig));
		server_stop(srv);
		return;
	}
	if (srv->stopping)
		return; /* workers are gone: nothing to reconfigure */
	log_info("SIGHUP received: reloading the configuration");
	if (server_reload(srv, &cause) != 0)
		free(cause);
}

/* The periodic STATUS= line. */
static void server_status_tick(evutil_socket_t fd, short what, void *arg)
{
	notify_status(arg);
}

/*
 * Set up signals and timers on the main base. main() blocked every signal
 * first thing; now that the loop handles these three, the main thread alone
 * unblocks them (a signal sent meanwhile was pending: it is handled now).
 * Every other signal stays blocked: SIGUSR1, SIGUSR2, SIGALRM and the rest
 * do nothing.
 */
static void server_events(struct server *srv)
{
	static const int sigs[3] = {SIGTERM, SIGINT, SIGHUP};
	struct timeval tv = {SERVER_STATUS_US / 1000000, 0};
	sigset_t handled;
	int i;

	sigemptyset(&handled);
	for (i = 0; i < 3; i++) {
		srv->sig[i] =
		    evsignal_new(srv->base, sigs[i], server_signal, srv);
		if (srv->sig[i] != NULL && evsignal_add(srv->sig[i], NULL) == 0)
			sigaddset(&handled, sigs[i]);
	}
	pthread_sigmask(SIG_UNBLOCK, &handled, NULL);
	srv->status_timer =
	    event_new(srv->base, -1, EV_PERSIST, server_status_tick, srv);
	event_add(srv->status_timer, &tv);
}

/*
 * Each worker's share of http.max_connections, fitted to the descriptor
 * limit (RLIMIT_NOFILE, main() raised it to the hard limit) less what the
 * rest of the daemon needs: HTTP connections must never take the last
 * descriptors, or the control socket could not accept (1,100 idle
 * connections under 1024 descriptors locked reclaimctl out). At least one
 * a worker.
 */
static void server_http_max(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	uint64_t max = cfg->http_max_connections, reserve, n = srv->nworkers;
	struct rlimit rl;
	bool fitted = false;

	reserve = SERVER_FD_RESERVE + SERVER_FD_WORKER * n +
		  cfg->control_max_connections;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rl.rlim_cur < reserve || rl.rlim_cur - reserve < max)) {
		max = rl.rlim_cur > reserve ? rl.rlim_cur - reserve : 0;
		fitted = true;
	}
	srv->http_conns_max = max / n > 0 ? (size_t)(max / n) : 1;
	log_info("http: at most %zu connections a worker%s", srv->http_conns_max,
		 fitted ? " (fitted to the descriptor limit)" : "");
}

/* Create the workers (not yet running). */
static int server_workers(struct server *srv, char **cause)
{
	size_t i;

	srv->nworkers = config_workers(srv->cfg);
	server_http_max(srv);
	srv->workers = xcalloc(srv->nworkers, sizeof *srv->workers);
	srv->stops = xcalloc(srv->nworkers, sizeof *srv->stops);
	for (i = 0; i < srv->nworkers; i++) {
		srv->workers[i] = worker_create(srv, (int)i, cause);
		if (srv->workers[i] == NULL)
			return -1;
	}
	return 0;
}

/* Count each worker's heap against the limit, then start the workers. */
static int server_start_workers(struct server *srv, char **cause)
{
	size_t i;

	for (i = 0; i < srv->nworkers; i++)
		memwatch_attach(srv->watch, srv->workers[i]->heap);
	for (i = 0; i < srv->nworkers; i++) {
		if (worker_start(srv->workers[i], cause) != 0)
			return -1;
		srv->running++;
	}
	return 0;
}

/* Remember the heap settings every worker starts with. */
static void server_thresholds(struct server *srv, const struct config *cfg)
{
	int i;

	for (i = 0; i < RCL_GENERATIONS; i++)
		srv->thresholds[i] = (size_t)cfg->heap_thresholds[i];
	srv->young_bytes = (size_t)cfg->heap_young_bytes;
	srv->incremental = cfg->heap_incremental;
	srv->increment_objects = (size_t)cfg->heap_increment_objects;
}

/* Everything up to READY; NULL and cause on failure. */
struct server *server_create(struct config *cfg,
			     const struct config_source *src, char **cause)
{
	struct server *srv = xcalloc(1, sizeof *srv);

	srv->cfg = cfg;
	srv->src = src;
	srv->started_us = mono_us();
	srv->start_time_ms = procinfo_start_time_ms();
	srv->fds.control = srv->fds.http = srv->fds.metrics = -1;
	server_thresholds(srv, cfg);
	signal(SIGPIPE, SIG_IGN);
	srv->base = event_base_new();
	if (srv->base == NULL) {
		*cause = xstrdup("cannot create the event loop");
		goto bad;
	}
	srv->inbox = mailbox_create(srv->base, server_inbox, srv, cause);
	if (srv->inbox == NULL || server_listen(srv, cause) != 0)
		goto bad;
	if (server_workers(srv, cause) != 0)
		goto bad;
	srv->report = report_create(srv);
	srv->watch = memwatch_create(srv, cause);
	if (srv->watch == NULL || server_start_workers(srv, cause) != 0)
		goto bad;
	srv->history = history_create(srv);
	srv->control = control_create(srv, srv->fds.control, cause);
	if (srv->control == NULL)
		goto bad;
	srv->fds.control = -1; /* the listener owns it now */
	if (srv->fds.metrics >= 0) {
		srv->metrics = metrics_create(srv, srv->fds.metrics, cause);
		if (srv->metrics == NULL)
			goto bad;
	}
	server_events(srv);
	return srv;
bad:
	server_destroy(srv);
	return NULL;
}

/* Run until stopped; the exit status. */
int server_run(struct server *srv)
{
	notify_keepalive_start(srv);
	log_info("ready: %zu workers", srv->nworkers);
	notify_status(srv);
	notify_send("READY=1");
	event_base_dispatch(srv->base);
	log_info("stopped");
	return srv->exit_status;
}

/* Stop workers still running (start-up failed half-way), then join. */
static void server_end_workers(struct server *srv)
{
	size_t i;

	for (i = 0; i < srv->nworkers && srv->running > 0; i++) {
		srv->stops[i].type = WCMD_STOP;
		srv->stops[i].worker = srv->workers[i];
		if (srv->workers[i] != NULL && srv->workers[i]->started)
			worker_post(srv->workers[i], &srv->stops[i]);
	}
	for (i = 0; i < srv->nworkers; i++) {
		if (srv->workers[i] != NULL)
			worker_join(srv->workers[i]);
		worker_destroy(srv->workers[i]);
	}
}

/* Free everything; NULL is a no-op. */
void server_destroy(struct server *srv)
{
	int i;

	if (srv == NULL)
		return;
	control_destroy(srv->control);
	metrics_destroy(srv->metrics);
	server_end_workers(srv);
	memwatch_destroy(srv->watch);
	history_destroy(srv->history);
	report_destroy(srv->report);
	mailbox_destroy(srv->inbox);
	for (i = 0; i < 3; i++) {
		if (srv->sig[i] != NULL)
			event_free(srv->sig[i]);
	}
	if (srv->status_timer != NULL)
		event_free(srv->status_timer);
	if (srv->keepalive != NULL)
		event_free(srv->keepalive);
	if (srv->flush != NULL)
		event_free(srv->flush);
	if (srv->own_socket != NULL)
		unlink(srv->own_socket);
	free(srv->own_socket);
	if (srv->fds.http >= 0)
		close(srv->fds.http);
	if (srv->fds.control >= 0)
		close(srv->fds.control);
	for (i = 0; i < 1 + SNAPSHOT_UIDS; i++)
		census_finish(&srv->snapshots[i].census);
	if (srv->base != NULL)
		event_base_free(srv->base);
	free(srv->workers);
	free(srv->stops);
	config_destroy(srv->cfg);
	free(srv);
}

/* The process_* figures, and where memory goes: resident memory the heaps
 * do not account for (their live bytes, the blocks and free pages they
 * keep; 0 if they
 * account for more, pages mapped but not touched), the watched cgroup's
 * breakdown and OOM kills. */
static void server_stats_memory(struct server *srv, struct stats_snapshot *s)
{
	struct stats_process *p = &s->process;
	struct memwatch_memory mem;
	uint64_t heaps = stats_heaps_bytes(&s->total);

	procinfo_read(p);
	p->process_start_time_ms = srv->start_time_ms;
	snprintf(p->version, sizeof p->version, "%s", RECLAIM_VERSION);
	p->process_unaccounted_bytes =
	    p->process_rss_bytes > heaps ? p->process_rss_bytes - heaps : 0;
	memwatch_memory(srv->watch, &mem);
	p->cgroup_anon_bytes = mem.cg.anon;
	p->cgroup_file_bytes = mem.cg.file;
	p->cgroup_kernel_bytes = mem.cg.kernel;
	p->cgroup_oom_kills_total = mem.cg.oom_kills;
	p->cgroup_oom_kills_at_start = mem.oom_kills_at_start;
}

/* Add the workers' garbage totals per task into g, by task. */
static void server_stats_garbage(struct server *srv, struct stats_garbage *g)
{
	const struct garbage_totals *tt;
	struct stats_garbage_task *row;
	size_t i, j, k, n;

	for (i = 0; i < srv->nworkers; i++) {
		tt = &srv->workers[i]->garbage_totals;
		n = atomic_load_explicit(&tt->n, memory_order_acquire);
		for (j = 0; j < n; j++) {
			for (k = 0; k < g->n; k++) {
				if (strcmp(g->tasks[k].task, tt->t[j].task) == 0)
					break;
			}
			if (k == STATS_GARBAGE_TASKS)
				continue;
			row = &g->tasks[k];
			if (k == g->n) {
				snprintf(row->task, sizeof row->task, "%s",
					 tt->t[j].task);
				g->n++;
			}
			row->objects += atomic_load_explicit(
			    &tt->t[j].objects, memory_order_relaxed);
			row->bytes += atomic_load_explicit(
			    &tt->t[j].bytes, memory_order_relaxed);
		}
	}
}

/* The stats snapshot: workers' published copies, summed; the watchdog.
 * -1 if out of memory (s is empty, stats_finish is still fine). */
int server_stats(struct server *srv, struct stats_snapshot *s)
{
	struct memwatch_status ws;
	size_t i;

	if (stats_init(s, srv->nworkers) != 0)
		return -1;
	for (i = 0; i < srv->nworkers; i++)
		worker_read_stats(srv->workers[i], &s->workers[i]);
	stats_sum(s);
	memwatch_status(srv->watch, &ws);
	s->process.process_uptime_seconds =
	    (mono_us() - srv->started_us) / 1000000;
	s->process.process_workers = srv->nworkers;
	s->process.limit_bytes = ws.st.limit_bytes;
	s->process.watchdog_forced_collections_total = ws.st.forced_total;
	s->process.watchdog_usage_bytes = ws.st.usage_bytes;
	s->process.watchdog_leak_suspected_total = ws.leaks;
	s->process.forensics_reports_total = report_count(srv->report);
	s->process.tasks_on_demand_running = srv->tasks_running;
	s->process.tasks_rejected_total = srv->tasks_rejected;
	s->process.suspects = ws.suspects;
	server_stats_garbage(srv, &s->process.garbage);
	stats_hist_set(&s->process.watchdog_reaction_hist,
		       rcl_watchdog_reaction_bounds_ns, ws.st.reaction_hist,
		       RCL_WATCHDOG_REACTION_BUCKETS);
	s->process.watchdog_reaction_hist.sum_ns = ws.st.reaction_total_ns;
	s->process.watchdog_reaction_hist.has_sum = true;
	snprintf(s->process.watchdog_level, sizeof s->process.watchdog_level,
		 "%s", ws.level);
	s->process.watchdog_throttled_total = ws.st.throttle_events;
	server_stats_memory(srv, s);
	return 0;
}
