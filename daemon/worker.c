/*
 * Worker threads. Each owns one event base (EVENT_BASE_FLAG_NOLOCK: no other
 * thread ever touches it) and one heap; the main thread reaches it only
 * through its mailbox, and reads the stats it publishes under a mutex.
 */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reclaimd.h"
#include "xmalloc.h"

/* How often a worker publishes its stats and checks a drain. */
#define WORKER_TICK_US 100000

/* After the drain timeout, how long the answers of the tasks it cut may
 * take to be written: they are short, and a client that reads nothing must
 * not hold the exit. */
#define WORKER_FLUSH_US 1000000

/* Copy this thread's counters where the main thread can read them. */
static void worker_publish(struct worker *w)
{
	rcl_sites_info si;
	rcl_stats hs;

	if (w->heap != NULL) {
		rcl_heap_stats(w->heap, &hs);
		w->stats.heap_objects = hs.objects;
		w->stats.heap_bytes = hs.bytes;
		w->stats.heap_owned_bytes = hs.owned_bytes;
		w->stats.heap_collections_total = hs.collections_total;
		w->stats.heap_collected_total = hs.collected_total;
		w->stats.heap_allocations_total = hs.allocations_total;
		w->stats.heap_pause_total_ns = hs.pause_total_ns;
		w->stats.heap_pause_max_ns = hs.pause_max_ns;
		w->stats.heap_full_collections_total =
		    hs.gen[RCL_GENERATIONS - 1].collections;
		w->stats.heap_survivor_bytes = hs.full_bytes_floor;
		w->stats.heap_old_objects = hs.gen[RCL_GENERATIONS - 1].objects;
		w->stats.heap_increments_total = hs.increments_total;
		w->stats.heap_increments_oversized_total =
		    hs.increments_oversized_total;
		w->stats.heap_increment_pause_max_ns = hs.increment_pause_max_ns;
		w->stats.heap_old_passes_total = hs.old_passes_total;
		w->stats.heap_old_pending_objects = hs.old_pending_objects;
		w->stats.heap_refused_total = hs.refused_total;
		w->stats.heap_refused_bytes_total = hs.refused_bytes_total;
		w->stats.heap_admission_collections_total =
		    hs.collections_by_limit_total;
		w->stats.heap_block_bytes = hs.block_bytes;
		w->stats.heap_cached_bytes = hs.cached_bytes;
		w->stats.heap_pool_free_bytes = hs.pool_free_bytes;
		rcl_heap_sites_info(w->heap, &si);
		w->stats.heap_sites_objects = si.objects;
		w->stats.heap_sites_bytes = si.bytes;
		stats_hist_set(&w->stats.heap_pause_hist, rcl_pause_bounds_ns,
			       hs.pause_hist, RCL_PAUSE_BUCKETS);
		w->stats.heap_pause_hist.sum_ns = hs.pause_total_ns;
		w->stats.heap_pause_hist.has_sum = true;
		stats_hist_set(&w->stats.heap_increment_pause_hist,
			       rcl_pause_bounds_ns, hs.increment_pause_hist,
			       RCL_PAUSE_BUCKETS);
		w->stats.heap_increment_pause_hist.sum_ns =
		    hs.increment_pause_total_ns;
		w->stats.heap_increment_pause_hist.has_sum = true;
	}
	pthread_mutex_lock(&w->lock);
	w->published = w->stats;
	pthread_mutex_unlock(&w->lock);
}

/* Collect hook: after a full collection, or a collection that began a
 * pass of increments (the last one ended: a survivor floor too,
 * memwatch.c), publish the survivors by type for the watchdog's leak rule
 * (it compares floors, not passing states). */
static void worker_full_census(rcl_heap *h, int generation, size_t found,
			       void *arg)
{
	rcl_type_stats census[RCL_WATCHDOG_CENSUS_MAX];
	rcl_site_census sites[WORKER_SITE_CENSUS];
	struct worker *w = arg;
	size_t n, ns;
	rcl_stats st;

	rcl_heap_stats(h, &st);
	if (generation != RCL_GENERATIONS - 1 &&
	    st.old_passes_total == w->census_passes)
		return;
	w->census_passes = st.old_passes_total;
	n = rcl_heap_census(h, census, RCL_WATCHDOG_CENSUS_MAX);
	if (n > RCL_WATCHDOG_CENSUS_MAX)
		n = RCL_WATCHDOG_CENSUS_MAX;
	ns = rcl_heap_site_census(h, sites, WORKER_SITE_CENSUS);
	if (ns > WORKER_SITE_CENSUS)
		ns = WORKER_SITE_CENSUS;
	pthread_mutex_lock(&w->lock);
	memcpy(w->census, census, n * sizeof census[0]);
	w->ncensus = n;
	memcpy(w->site_census, sites, ns * sizeof sites[0]);
	w->nsite_census = ns;
	pthread_mutex_unlock(&w->lock);
}

/* The key of a census by site: type, task, file, line, function. */
static char *census_site_key(const rcl_site_census *e)
{
	const rcl_site *s = e->site;
	char *key;

	if (asprintf(&key, "%s%c%s%c%s%c%u%c%s",
		     e->type->name ? e->type->name : "?", CENSUS_SEP,
		     e->label ? e->label : FX_NO_TASK, CENSUS_SEP,
		     s ? s->file : "", CENSUS_SEP, s ? s->line : 0, CENSUS_SEP,
		     s ? s->func : "") < 0)
		return NULL;
	return key;
}

/* Live recorded objects by (type, task, site) into c->by_site, while the
 * heap records sites; false if out of memory. */
static bool worker_census_sites(struct worker *w, struct census *c)
{
	rcl_site_census *sc;
	struct census *bs;
	size_t n, i;

	n = rcl_heap_site_census(w->heap, NULL, 0);
	if (n == 0)
		return true;
	sc = calloc(n, sizeof *sc);
	bs = c->by_site = calloc(1, sizeof *bs);
	if (sc == NULL || bs == NULL ||
	    (bs->types = calloc(n, sizeof *bs->types)) == NULL) {
		free(sc);
		return false;
	}
	n = rcl_heap_site_census(w->heap, sc, n);
	for (i = 0; i < n; i++) {
		bs->types[i].type = census_site_key(&sc[i]);
		if (bs->types[i].type == NULL)
			break;
		bs->types[i].objects = sc[i].objects;
		bs->types[i].bytes = sc[i].bytes;
		bs->n = i + 1;
	}
	free(sc);
	return i == n;
}

/* Live objects by type, copied so the main thread owns the names; out of
 * memory, an empty census marked oom. */
static void worker_census(struct worker *w, struct census *c)
{
	rcl_type_stats *ts;
	size_t n, i;
	bool ok;

	n = rcl_heap_census(w->heap, NULL, 0);
	ts = calloc(n ? n : 1, sizeof *ts);
	c->types = calloc(n ? n : 1, sizeof *c->types);
	ok = ts != NULL && c->types != NULL;
	if (ok)
		n = rcl_heap_census(w->heap, ts, n);
	for (i = 0; ok && i < n; i++) {
		c->types[i].type = strdup(ts[i].name ? ts[i].name : "?");
		if (c->types[i].type == NULL)
			break;
		c->types[i].objects = ts[i].objects;
		c->types[i].bytes = ts[i].bytes;
		c->n = i + 1;
	}
	free(ts);
	if (!ok || i < n || !worker_census_sites(w, c)) {
		census_finish(c);
		c->oom = true;
	}
}

/*
 * Requests in flight: an HTTP request from its dispatch until evhttp has
 * written its reply (or dropped it: the client left, or its connection
 * failed), and a RunTask from its task's start until it is answered. A
 * drain waits for them; these two alone count them.
 */
void worker_inflight_begin(struct worker *w)
{
	w->inflight++;
}

/* n requests left flight (answered and written, or dropped); the tick
 * sees a drain that is over (worker_check_drain). */
void worker_inflight_end(struct worker *w, unsigned n)
{
	w->inflight -= n;
}

/*
 * Finish a drain. What is in flight has until the drain timeout; then the
 * tasks still running are cancelled, which answers them (HTTP 503, RunTask
 * io.reclaim.ShuttingDown), and the loop runs on until those answers are
 * written, or for WORKER_FLUSH_US at most, before it is left (and what is
 * left closed). Leaving at once cut them: the client got an empty reply, or
 * a closed connection.
 */
static void worker_check_drain(struct worker *w)
{
	if (w->stop == NULL)
		return;
	if (w->inflight > 0 && mono_us() < w->stop_deadline)
		return;
	if (w->inflight > 0 && !w->stop_cut) {
		log_worker(LOG_WARNING, w->id,
			   "worker %d: %u requests still in flight after the "
			   "drain timeout: answered as stopping",
			   w->id, w->inflight);
		w->stop_cut = true;
		w->stop_deadline = mono_us() + WORKER_FLUSH_US;
		task_rt_stop(w->tasks);
		if (w->inflight > 0)
			return; /* the tick looks again */
	}
	if (w->inflight > 0)
		log_worker(LOG_WARNING, w->id,
			   "worker %d: %u answers not written after the drain: "
			   "closed",
			   w->id, w->inflight);
	event_base_loopbreak(w->base);
}

/* Stop accepting, then let in-flight requests finish within the bound. */
static void worker_drain(struct worker *w, struct wcmd *cmd)
{
	w->stop = cmd;
	w->stop_deadline = mono_us() + cmd->in.drain_us;
	http_stop_accepting(w);
	worker_check_drain(w);
}

/* Collect, timing the pause. */
static void worker_collect(struct worker *w, struct wcmd *cmd)
{
	uint64_t t0 = mono_us();

	cmd->out.collected = rcl_collect(w->heap, cmd->in.collect.generation);
	if (cmd->in.collect.trim)
		rcl_heap_trim(w->heap);
	cmd->out.pause_ns = (mono_us() - t0) * 1000;
}

/* Leak debugging: while on, the heap records where each object was made
 * and for which task (at most DEBUG_SITES_MAX objects), and the observer
 * records each collection's garbage; off, the record is freed and
 * allocation and the collector are back on their fast paths. Out of memory
 * for either, it stays off on this worker and the command says so
 * (SetDebug answers io.reclaim.OutOfMemory). */
static void worker_debug(struct worker *w, struct wcmd *cmd)
{
	bool on = cmd->in.leak;

	if (on && ((w->forensics == NULL &&
		    (w->forensics = forensics_create()) == NULL) ||
		   rcl_heap_record_sites(w->heap, DEBUG_SITES_MAX) != 0)) {
		log_worker(LOG_WARNING, w->id,
			   "worker %d: out of memory: leak debugging stays off",
			   w->id);
		cmd->out.oom = true;
		return;
	}
	w->debug_leak = on;
	if (on) {
		forensics_attach(w->forensics, w->heap, &w->garbage_totals);
	} else {
		rcl_heap_record_sites(w->heap, 0);
		pthread_mutex_lock(&w->lock);
		w->nsite_census = 0;
		pthread_mutex_unlock(&w->lock);
		if (w->forensics != NULL)
			forensics_detach(w->forensics, w->heap);
	}
}

/* The garbage report, moved out (reading empties it) or copied (peek). */
static void worker_garbage(struct worker *w, struct wcmd *cmd)
{
	rcl_heap_sites_info(w->heap, &cmd->out.sites);
	if (w->forensics == NULL)
		return;
	forensics_take(w->forensics, cmd->in.peek, &cmd->out.garbage);
	if (!w->debug_leak && !cmd->in.peek) {
		forensics_destroy(w->forensics);
		w->forensics = NULL;
	}
}

/* Run one command from the main thread, then send it back. */
static void worker_exec(struct wcmd *cmd, void *arg)
{
	struct worker *w = arg;

	switch (cmd->type) {
	case WCMD_PING:
		atomic_store(&w->pong, cmd->in.seq);
		return;
	case WCMD_STOP:
		worker_drain(w, cmd);
		return;
	case WCMD_RUN:
		task_start_cmd(w, cmd); /* answered when the task ends */
		return;
	case WCMD_PROGRESS: /* the main thread's, never sent to a worker */
		return;
	case WCMD_CANCEL:
		/* Cleared first: a mark made from now on posts it again. */
		atomic_store(&w->cancel_queued, false);
		task_rt_cancel(w->tasks);
		return;
	case WCMD_COLLECT:
		worker_collect(w, cmd);
		break;
	case WCMD_THRESHOLDS:
		rcl_set_thresholds(w->heap, cmd->in.heap.thresholds);
		rcl_set_young_bytes(w->heap, cmd->in.heap.young_bytes);
		rcl_set_incremental(w->heap, cmd->in.heap.incremental);
		rcl_set_increment_objects(w->heap,
					  cmd->in.heap.increment_objects);
		break;
	case WCMD_DEBUG:
		worker_debug(w, cmd);
		break;
	case WCMD_GARBAGE:
		worker_garbage(w, cmd);
		break;
	case WCMD_SHED:
		w->shedding = cmd->in.shed;
		break;
	case WCMD_PACE:
		rcl_set_young_bytes(w->heap, cmd->in.pace.young_bytes);
		break;
	case WCMD_CENSUS:
		worker_census(w, &cmd->out.census);
		break;
	}
	worker_publish(w);
	mailbox_post(w->srv->inbox, cmd);
}

/* The periodic tick: give back blocks cached and unused for a second,
 * publish stats, watch a drain. */
static void worker_tick(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	rcl_heap_release_idle(w->heap);
	worker_publish(w);
	worker_check_drain(w);
}

/* A heap configured from the configuration. */
static rcl_heap *worker_heap(const struct config *cfg)
{
	rcl_config hc;
	rcl_heap *h;
	int i;

	rcl_config_init(&hc);
	for (i = 0; i < RCL_GENERATIONS; i++)
		hc.thresholds[i] = (size_t)cfg->heap_thresholds[i];
	hc.young_bytes = (size_t)cfg->heap_young_bytes;
	h = rcl_heap_new(&hc);
	rcl_set_incremental(h, cfg->heap_incremental);
	rcl_set_increment_objects(h, (size_t)cfg->heap_increment_objects);
	return h;
}

/* Set up a worker's base, heap, mailbox and HTTP front (not yet running). */
struct worker *worker_create(struct server *srv, int id, char **cause)
{
	struct worker *w = xcalloc(1, sizeof *w);
	struct event_config *ec = event_config_new();
	struct timeval tv = {0, WORKER_TICK_US};

	w->id = id;
	w->srv = srv;
	TAILQ_INIT(&w->http_tasks);
	pthread_mutex_init(&w->lock, NULL);
	w->ping.type = WCMD_PING;
	w->ping.worker = w;
	w->cancel.type = WCMD_CANCEL;
	w->cancel.worker = w;
	event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
	w->base = event_base_new_with_config(ec);
	event_config_free(ec);
	w->heap = worker_heap(srv->cfg);
	if (w->base == NULL || w->heap == NULL) {
		xasprintf(cause, "worker %d: out of memory", id);
		goto bad;
	}
	rcl_set_collect_hook(w->heap, worker_full_census, w);
	w->inbox = mailbox_create(w->base, worker_exec, w, cause);
	if (w->inbox == NULL)
		goto bad;
	w->tick = event_new(w->base, -1, EV_PERSIST, worker_tick, w);
	event_add(w->tick, &tv);
	w->tasks = task_rt_create(w, cause);
	if (w->tasks == NULL)
		goto bad;
	if (srv->fds.http >= 0 && http_start(w, srv->fds.http, cause) != 0)
		goto bad;
	return w;
bad:
	worker_destroy(w);
	return NULL;
}

/* The thread: adopt the heap, run the loop until stopped, clean up. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct wcmd *stop;
	char name[16];

	snprintf(name, sizeof name, "rcl-worker-%u", (unsigned)w->id % 1000u);
	pthread_setname_np(pthread_self(), name);
	rcl_heap_adopt(w->heap);
	event_base_dispatch(w->base);
	task_rt_destroy(w->tasks);
	w->tasks = NULL;
	http_free(w);
	worker_publish(w);
	rcl_heap_destroy(w->heap);
	w->heap = NULL;
	stop = w->stop;
	if (stop != NULL)
		mailbox_post(w->srv->inbox, stop);
	return NULL;
}

/* Start the thread, with every signal blocked (main handles them). */
int worker_start(struct worker *w, char **cause)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		xasprintf(cause, "worker %d: %s", w->id, strerror(rc));
		return -1;
	}
	w->started = true;
	return 0;
}

/* Wait for a stopped worker's thread. */
void worker_join(struct worker *w)
{
	if (w->started)
		pthread_join(w->thread, NULL);
	w->started = false;
}

/* Free a worker whose thread has ended or never started; NULL is a no-op. */
void worker_destroy(struct worker *w)
{
	if (w == NULL)
		return;
	task_rt_destroy(w->tasks);
	w->tasks = NULL; /* http_free's close callbacks look at it */
	http_free(w);
	if (w->tick != NULL)
		event_free(w->tick);
	mailbox_destroy(w->inbox);
	rcl_heap_destroy(w->heap);
	forensics_destroy(w->forensics);
	if (w->base != NULL)
		event_base_free(w->base);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

/* Send a command to the worker. */
void worker_post(struct worker *w, struct wcmd *cmd)
{
	mailbox_post(w->inbox, cmd);
}

/* The stats the worker last published. */
void worker_read_stats(struct worker *w, struct stats_worker *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->published;
	pthread_mutex_unlock(&w->lock);
}

/* The census published after the last full collection, at most max. */
size_t worker_read_census(struct worker *w, rcl_type_stats *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&w->lock);
	n = w->ncensus < max ? w->ncensus : max;
	memcpy(out, w->census, n * sizeof out[0]);
	pthread_mutex_unlock(&w->lock);
	return n;
}

/* The census by site published after the last full collection (none
 * while leak debugging is off), at most max. */
size_t worker_read_site_census(struct worker *w, rcl_site_census *out,
			       size_t max)
{
	size_t n;

	pthread_mutex_lock(&w->lock);
	n = w->nsite_census < max ? w->nsite_census : max;
	memcpy(out, w->site_census, n * sizeof out[0]);
	pthread_mutex_unlock(&w->lock);
	return n;
}

/* Ask the worker's loop to answer seq, unless it still owes the last one. */
void worker_ping(struct worker *w, unsigned seq)
{
	if (atomic_load(&w->pong) != w->ping.in.seq)
		return; /* the last ping is still queued */
	w->ping.in.seq = seq;
	mailbox_post(w->inbox, &w->ping);
}

/* Have the worker cancel the RunTask tasks marked cancel, now (main thread).
 * The command is the worker's own, so this cannot fail for memory; it is
 * queued at most once, and the worker clears cancel_queued before it looks
 * at the marks, so no mark is missed. */
void worker_cancel(struct worker *w)
{
	if (atomic_exchange(&w->cancel_queued, true))
		return;
	mailbox_post(w->inbox, &w->cancel);
}

/* Whether the worker's loop answered ping seq (sent by worker_ping). */
bool worker_answered(struct worker *w, unsigned seq)
{
	return w->ping.in.seq == seq && atomic_load(&w->pong) == seq;
}
