/*
 * The memory watchdog (lib/watchdog/) on the main thread's event base. Its
 * hooks become messages: a forced collection or a pacing change is a
 * fan-out to every worker's heap, shedding a flag each worker's HTTP front
 * reads; heap figures come from the stats the workers publish.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "census.h"
#include "reclaimd.h"
#include "xmalloc.h"

struct memwatch {
	struct server *srv;
	rcl_watchdog *wd;
	uint64_t leaks;
	struct stats_suspects suspects; /* named by the last leak event */
	char cgroup[RCL_WATCHDOG_PATH_MAX]; /* watchdog.cgroup, and */
	uint64_t limit_bytes;		    /* watchdog.limit in force */
	uint64_t oom_kills_at_start;	    /* the watched cgroup's, at start */
};

/* A forced collection finished on every worker. */
static void memwatch_collect_done(struct fanout *fan)
{
	struct memwatch *mw = fan->arg;

	fanout_destroy(fan);
	rcl_watchdog_collect_done(mw->wd);
}

/* collect hook: every heap collects generations 0..generation, then gives
 * back what it keeps when the watchdog trims after this collection (a
 * worker's heap can only be trimmed on its own thread). */
static int memwatch_collect(void *arg, int generation, int reason)
{
	struct memwatch *mw = arg;
	struct fanout *fan;
	size_t i;

	if (mw->srv->stopping)
		return 0;
	log_debug("watchdog: collecting generation %d (%s)", generation,
		  rcl_watchdog_reason_name(reason));
	fan = fanout_create(mw->srv, NULL, WCMD_COLLECT, memwatch_collect_done);
	if (fan == NULL)
		return 0; /* nothing collected: the watchdog tries again */
	fan->arg = mw;
	for (i = 0; i < fan->n; i++) {
		fan->cmds[i].in.collect.generation = generation;
		/* NULL while the watchdog is being created: no trim then */
		fan->cmds[i].in.collect.trim = rcl_watchdog_trims(mw->wd, reason);
	}
	fanout_send(fan);
	return RCL_WATCHDOG_PENDING;
}

/* trim hook: the heaps trimmed with their collection; malloc's arenas are
 * the process's, trimmed here. */
static size_t memwatch_trim(void *arg)
{
	return rcl_watchdog_trim();
}

/* A fan-out nobody waits for. */
static void memwatch_forget(struct fanout *fan)
{
	fanout_destroy(fan);
}

/* Usage and the limit as journal fields, with the level; none while the
 * watchdog is being created (its first level comes before it exists) or
 * destroyed. */
static void memwatch_fields(struct memwatch *mw, struct log_fields *lf)
{
	rcl_watchdog_stats st;

	if (mw->wd == NULL)
		return;
	rcl_watchdog_stats_get(mw->wd, &st);
	log_field(lf, "LEVEL", "%s", rcl_watchdog_level_name(st.level));
	log_field(lf, "USAGE_BYTES", "%llu",
		  (unsigned long long)st.usage_bytes);
	log_field(lf, "LIMIT_BYTES", "%llu",
		  (unsigned long long)st.limit_bytes);
}

/* shed hook: every worker answers 503 while on. */
static void memwatch_shed(void *arg, bool on)
{
	struct memwatch *mw = arg;
	struct log_fields lf = {0};
	struct fanout *fan;
	size_t i;

	memwatch_fields(mw, &lf);
	log_event(LOG_WARNING, on ? LOG_ID_SHED_BEGIN : LOG_ID_SHED_END, &lf,
		  "watchdog: shedding %s", on ? "on" : "off");
	if (mw->srv->stopping)
		return; /* the workers are gone, or going */
	fan = fanout_create(mw->srv, NULL, WCMD_SHED, memwatch_forget);
	if (fan == NULL)
		return;
	for (i = 0; i < fan->n; i++)
		fan->cmds[i].in.shed = on;
	fanout_send(fan);
}

/* pace hook: every heap's young byte trigger. */
static void memwatch_pace_hook(void *arg, size_t young_bytes)
{
	struct memwatch *mw = arg;
	struct fanout *fan;
	size_t i;

	fan = fanout_create(mw->srv, NULL, WCMD_PACE, memwatch_forget);
	if (fan == NULL)
		return;
	for (i = 0; i < fan->n; i++)
		fan->cmds[i].in.pace.young_bytes = young_bytes;
	fanout_send(fan);
}

/* heap_info hook: the workers' published figures, summed. */
static bool memwatch_heap_info(void *arg, rcl_watchdog_heap_info *out)
{
	struct memwatch *mw = arg;
	struct stats_worker w;
	size_t i;

	memset(out, 0, sizeof *out);
	out->incremental = mw->srv->incremental;
	for (i = 0; i < mw->srv->nworkers; i++) {
		worker_read_stats(mw->srv->workers[i], &w);
		out->objects += w.heap_objects;
		out->bytes += w.heap_bytes;
		/* a pass of increments ends as a full collection does:
		 * with a new survivor floor */
		out->full_collections += w.heap_full_collections_total +
					 w.heap_old_passes_total;
		out->survivor_objects += w.heap_old_objects;
		out->survivor_bytes += w.heap_survivor_bytes;
		out->gc_ns += w.heap_pause_total_ns;
	}
	return true;
}

/* census hook: the workers' published censuses, merged by type. */
static size_t memwatch_census(void *arg, rcl_type_stats *out, size_t max)
{
	struct memwatch *mw = arg;

	return census_published(mw->srv, out, max);
}

/* level hook: log each change and refresh STATUS=. */
static void memwatch_level(void *arg, int from, int to)
{
	struct memwatch *mw = arg;
	struct log_fields lf = {0};

	memwatch_fields(mw, &lf);
	if (lf.n == 0) /* no stats yet: the level at least */
		log_field(&lf, "LEVEL", "%s", rcl_watchdog_level_name(to));
	log_field(&lf, "PREVIOUS_LEVEL", "%s", rcl_watchdog_level_name(from));
	log_event(to > from ? LOG_WARNING : LOG_NOTICE, LOG_ID_LEVEL, &lf,
		  "watchdog: level %s -> %s", rcl_watchdog_level_name(from),
		  rcl_watchdog_level_name(to));
	if (mw->srv->watch == NULL)
		return; /* a first level during memwatch_create: nothing yet */
	notify_status(mw->srv);
	report_level(mw->srv->report, from, to);
}

/* Keep the types a leak event names, and log them. */
static void memwatch_suspects(struct memwatch *mw,
			      const rcl_watchdog_leak *leak)
{
	struct stats_suspects *sp = &mw->suspects;
	size_t i;

	memset(sp, 0, sizeof *sp);
	for (i = 0; i < leak->ntypes && i < STATS_SUSPECTS; i++) {
		snprintf(sp->types[i].type, sizeof sp->types[i].type, "%s",
			 leak->types[i].name ? leak->types[i].name : "?");
		sp->types[i].first = leak->types[i].first;
		sp->types[i].last = leak->types[i].last;
		log_warn("watchdog: leak suspect %s: %zu -> %zu survivors",
			 sp->types[i].type, leak->types[i].first,
			 leak->types[i].last);
	}
	sp->n = i;
}

/* The leak's types as one field: "A, B" ("none": no type rose). */
static void memwatch_suspect_field(const rcl_watchdog_leak *leak,
				   struct log_fields *lf)
{
	char types[LOG_FIELD_LEN];
	size_t i, off = 0;

	snprintf(types, sizeof types, "none");
	for (i = 0; i < leak->ntypes && off < sizeof types; i++)
		off += (size_t)snprintf(types + off, sizeof types - off, "%s%s",
					i ? ", " : "",
					leak->types[i].name ? leak->types[i].name
							    : "?");
	log_field(lf, "SUSPECT_TYPES", "%s", types);
}

/* leak hook: a rising survivor floor. */
static void memwatch_leak(void *arg, const rcl_watchdog_leak *leak)
{
	struct memwatch *mw = arg;
	struct log_fields lf = {0};

	mw->leaks++;
	log_field(&lf, "COLLECTIONS", "%u", leak->collections);
	log_field(&lf, "SURVIVOR_FIRST_BYTES", "%zu", leak->floor_first_bytes);
	log_field(&lf, "SURVIVOR_LAST_BYTES", "%zu", leak->floor_last_bytes);
	memwatch_suspect_field(leak, &lf);
	log_event(LOG_WARNING, LOG_ID_LEAK, &lf,
		  "watchdog: leak suspected: survivors rose from %zu to %zu "
		  "bytes over %u full collections",
		  leak->floor_first_bytes, leak->floor_last_bytes,
		  leak->collections);
	memwatch_suspects(mw, leak);
}

/* throttle hook: the CPU cap on collections refuses one, or no longer. */
static void memwatch_throttle(void *arg, bool on)
{
	struct memwatch *mw = arg;
	struct log_fields lf = {0};
	rcl_watchdog_stats st;

	rcl_watchdog_stats_get(mw->wd, &st);
	memwatch_fields(mw, &lf);
	log_field(&lf, "GC_CPU_FRACTION", "%.2f", st.gc_cpu_fraction);
	log_field(&lf, "GC_CPU_CAP", "%.2f", mw->srv->cfg->watchdog.gc_cpu_cap);
	log_event(on ? LOG_WARNING : LOG_NOTICE,
		  on ? LOG_ID_THROTTLE_BEGIN : LOG_ID_THROTTLE_END, &lf,
		  on ? "watchdog: collection time throttled: %.0f%% of the "
		       "last window in collections, the cap is %.0f%%"
		     : "watchdog: collection time no longer throttled (%.0f%% "
		       "of the last window, the cap %.0f%%)",
		  st.gc_cpu_fraction * 100,
		  mw->srv->cfg->watchdog.gc_cpu_cap * 100);
}

/* The library's configuration from ours. */
static void memwatch_config(struct server *srv, const struct config *cfg,
			    rcl_watchdog_config *out)
{
	*out = cfg->watchdog;
	out->workers = (uint32_t)srv->nworkers;
	out->young_bytes = srv->young_bytes;
}

/* Say loudly when no limit was found: the kernel may still kill us under
 * one we cannot see (a cgroup namespace hides limits set above it). */
static void memwatch_warn_limit(struct memwatch *mw)
{
	rcl_watchdog_stats st;

	rcl_watchdog_stats_get(mw->wd, &st);
	if (!st.enabled)
		return;
	if (st.limit_source == RCL_WATCHDOG_LIMIT_PHYSICAL ||
	    st.limit_source == RCL_WATCHDOG_LIMIT_UNKNOWN)
		log_warn("watchdog: no memory limit found, working to %s "
			 "(%llu bytes): %s",
			 rcl_watchdog_limit_source_name(st.limit_source),
			 (unsigned long long)st.limit_bytes, st.limit_reason);
	else
		log_info("watchdog: limit %llu bytes from %s",
			 (unsigned long long)st.limit_bytes, st.limit_reason);
}

/* Say at start whether the watched cgroup (the service's, under systemd)
 * has seen OOM kills already: a restarted service tells why. */
static void memwatch_oom_at_start(struct memwatch *mw)
{
	rcl_watchdog_memstat ms;
	const char *file;

	if (rcl_watchdog_memstat_get(mw->wd, &ms) != 0 || ms.version == 0) {
		log_info("watchdog: no memory cgroup: OOM kills before this "
			 "start are not known");
		return;
	}
	file = ms.version == 1 ? "memory.oom_control" : "memory.events";
	mw->oom_kills_at_start = ms.oom_kills;
	if (ms.oom_kills == 0)
		log_info("watchdog: cgroup %s has seen no OOM kill (%s "
			 "oom_kill 0)",
			 ms.cgroup, file);
	else
		log_warn("watchdog: cgroup %s has seen %llu OOM kill%s before "
			 "this start (%s oom_kill): a process of it, reclaimd "
			 "itself perhaps, was killed for memory",
			 ms.cgroup, (unsigned long long)ms.oom_kills,
			 ms.oom_kills == 1 ? "" : "s", file);
}

/* The watched cgroup's memory and OOM kills now (see memwatch_memory). */
void memwatch_memory(struct memwatch *mw, struct memwatch_memory *out)
{
	memset(out, 0, sizeof *out);
	rcl_watchdog_memstat_get(mw->wd, &out->cg);
	out->oom_kills_at_start = mw->oom_kills_at_start;
}

/* Create the watchdog on the main base, hooked to the workers. */
struct memwatch *memwatch_create(struct server *srv, char **cause)
{
	struct memwatch *mw = xcalloc(1, sizeof *mw);
	rcl_watchdog_hooks hooks = {
	    .collect = memwatch_collect,
	    .trim = memwatch_trim,
	    .shed = memwatch_shed,
	    .pace = memwatch_pace_hook,
	    .heap_info = memwatch_heap_info,
	    .level = memwatch_level,
	    .leak = memwatch_leak,
	    .census = memwatch_census,
	    .arg = mw,
	};
	rcl_watchdog_config wc;
	char err[256];

	mw->srv = srv;
	memwatch_config(srv, srv->cfg, &wc);
	mw->wd =
	    rcl_watchdog_create(srv->base, &wc, &hooks, NULL, err, sizeof err);
	if (mw->wd == NULL) {
		xasprintf(cause, "watchdog: %s", err);
		free(mw);
		return NULL;
	}
	rcl_watchdog_set_throttle_hook(mw->wd, memwatch_throttle);
	snprintf(mw->cgroup, sizeof mw->cgroup, "%s", wc.cgroup);
	mw->limit_bytes = wc.limit_bytes;
	memwatch_warn_limit(mw);
	memwatch_oom_at_start(mw);
	return mw;
}

/* Count a worker's heap against the limit: its allocations are admitted
 * (before the worker runs, or on its thread). */
void memwatch_attach(struct memwatch *mw, rcl_heap *h)
{
	rcl_watchdog_attach(mw->wd, h);
}

/* Free it; NULL is a no-op. The watchdog ends shedding as it goes, through
 * the shed hook, when its figures are half gone: mw->wd is NULL by then, so
 * the hook reads none (rcl_watchdog_stats_get there read the closed gauge). */
void memwatch_destroy(struct memwatch *mw)
{
	rcl_watchdog *wd;

	if (mw == NULL)
		return;
	wd = mw->wd;
	mw->wd = NULL;
	rcl_watchdog_destroy(wd);
	free(mw);
}

/* Take the watchdog.* keys again (reload). */
void memwatch_configure(struct memwatch *mw, const struct config *cfg)
{
	rcl_watchdog_config wc;
	char err[256];

	memwatch_config(mw->srv, cfg, &wc);
	if (rcl_watchdog_reconfigure(mw->wd, &wc, err, sizeof err) != 0)
		log_err("watchdog: keeping the old configuration: %s", err);
	else if (strcmp(wc.cgroup, mw->cgroup) != 0 ||
		 wc.limit_bytes != mw->limit_bytes)
		memwatch_warn_limit(mw);
	snprintf(mw->cgroup, sizeof mw->cgroup, "%s", wc.cgroup);
	mw->limit_bytes = wc.limit_bytes;
}

/* The young byte trigger changed (SetThresholds): pacing restores this. */
void memwatch_pace(struct memwatch *mw, size_t young_bytes)
{
	memwatch_configure(mw, mw->srv->cfg);
}

/* A disabled watchdog samples nothing: read memory and the limit here. */
static void memwatch_probe(struct memwatch *mw, rcl_watchdog_stats *st)
{
	rcl_watchdog_config wc = mw->srv->cfg->watchdog;
	rcl_watchdog_sample s;

	wc.enabled = true;
	if (rcl_watchdog_probe(&wc, &s, st->cgroup, sizeof st->cgroup) != 0)
		return;
	st->rss_bytes = s.rss;
	st->usage_bytes = s.usage;
	st->limit_bytes = s.limit;
	st->limit_source = s.limit_source;
}

/* The limit in force now (0: unknown). */
uint64_t memwatch_limit(struct memwatch *mw)
{
	struct memwatch_status st;

	memwatch_status(mw, &st);
	return st.st.limit_bytes;
}

/* The watchdog's view now. */
void memwatch_status(struct memwatch *mw, struct memwatch_status *out)
{
	memset(out, 0, sizeof *out);
	rcl_watchdog_stats_get(mw->wd, &out->st);
	out->level =
	    out->st.enabled ? rcl_watchdog_level_name(out->st.level) : "off";
	if (!out->st.enabled)
		memwatch_probe(mw, &out->st);
	out->limit_source =
	    rcl_watchdog_limit_source_name(out->st.limit_source);
	out->leaks = mw->leaks;
	out->suspects = mw->suspects;
}
