/* Watchdog: the memory watchdog's view: usage, limit, level, actions. */
#include <stdlib.h>
#include <string.h>

#include "reclaimd.h"

/* The level figures. */
static void method_watchdog_levels(struct json *reply,
				   const rcl_watchdog_stats *st)
{
	json_add_u64(reply, "soft_bytes", st->soft_bytes);
	json_add_u64(reply, "hard_bytes", st->hard_bytes);
	json_add_u64(reply, "level_changes", st->level_changes);
	json_add_bool(reply, "shedding", st->shedding);
	json_add_u64(reply, "shed_total", st->shed_total);
	json_add_bool(reply, "throttled", st->throttled);
	json_add_double(reply, "gc_cpu_fraction", st->gc_cpu_fraction);
	json_add_u64(reply, "poll_interval_ms", st->poll_interval_ms);
	json_add_u64(reply, "reaction_last_ns", st->reaction_last_ns);
	json_add_u64(reply, "reaction_max_ns", st->reaction_max_ns);
}

/* What admission did on the workers' heaps. */
static void method_watchdog_admission(struct json *reply,
				      const rcl_watchdog_stats *st)
{
	struct json *a = json_add_object(reply, "admission");

	json_add_u64(a, "heaps", st->heaps);
	json_add_u64(a, "estimate_bytes", st->estimate_bytes);
	json_add_u64(a, "refused_total", st->refused);
	json_add_u64(a, "refused_bytes_total", st->refused_bytes);
	json_add_u64(a, "collections_total", st->admission_collections);
	json_add_u64(a, "readings_total", st->admission_readings);
}

/* What woke the watchdog, by source ("poll", "psi", "memory-events"...). */
static void method_watchdog_wakeups(struct json *reply,
				    const rcl_watchdog_stats *st)
{
	struct json *o = json_add_object(reply, "wakeups");
	int i;

	for (i = 0; i < RCL_WATCHDOG_WAKEUPS; i++)
		json_add_u64(o, rcl_watchdog_wakeup_name(i), st->wakeups[i]);
}

/* Sites of survivors per suspect, at most. */
#define SUSPECT_SITES 3

/* Add the workers' published census by site of the type called name into
 * out (by site and task; n of max used), survivors of the last full
 * collection of each. */
static size_t suspect_sites(struct server *srv, const char *name,
			    rcl_site_census *out, size_t max)
{
	rcl_site_census one[WORKER_SITE_CENSUS];
	size_t i, j, k, n = 0, m;

	for (i = 0; i < srv->nworkers; i++) {
		m = worker_read_site_census(srv->workers[i], one,
					    WORKER_SITE_CENSUS);
		for (j = 0; j < m; j++) {
			if (one[j].type->name == NULL ||
			    strcmp(one[j].type->name, name) != 0)
				continue;
			for (k = 0; k < n && (out[k].site != one[j].site ||
					      out[k].label != one[j].label);
			     k++)
				;
			if (k == n && n == max)
				continue;
			if (k == n)
				out[n++] = (rcl_site_census){
				    one[j].site, one[j].label, one[j].type, 0, 0};
			out[k].objects += one[j].objects;
			out[k].bytes += one[j].bytes;
		}
	}
	return n;
}

/* Most survivors first. */
static int suspect_site_cmp(const void *a, const void *b)
{
	const rcl_site_census *x = a, *y = b;

	return x->objects < y->objects ? 1 : x->objects > y->objects ? -1 : 0;
}

/* The sites that made the survivors of a suspect type (while leak
 * debugging records them): [{"file", "line", "function", "task",
 * "objects"}], the SUSPECT_SITES with the most. */
static void method_watchdog_suspect_sites(struct json *o, struct server *srv,
					  const char *name)
{
	rcl_site_census s[WORKER_SITE_CENSUS];
	struct json *arr = json_add_array(o, "sites"), *e;
	size_t n = suspect_sites(srv, name, s, WORKER_SITE_CENSUS), i;

	if (n > 1)
		qsort(s, n, sizeof s[0], suspect_site_cmp);
	for (i = 0; i < n && i < SUSPECT_SITES; i++) {
		e = json_add_object(arr, NULL);
		json_add_str(e, "file", s[i].site ? forensics_source_path(
							s[i].site->file)
						  : "");
		json_add_u64(e, "line", s[i].site ? s[i].site->line : 0);
		json_add_str(e, "function", s[i].site ? s[i].site->func : "");
		json_add_str(e, "task", s[i].label ? s[i].label : FX_NO_TASK);
		json_add_u64(e, "objects", s[i].objects);
	}
}

/* The types the last leak-suspected event named, and where their
 * survivors were made. */
static void method_watchdog_suspects(struct json *reply, struct server *srv,
				     const struct stats_suspects *sp)
{
	struct json *arr = json_add_array(reply, "leak_suspects"), *o;
	size_t i;

	for (i = 0; i < sp->n; i++) {
		o = json_add_object(arr, NULL);
		json_add_str(o, "type", sp->types[i].type);
		json_add_u64(o, "first", sp->types[i].first);
		json_add_u64(o, "last", sp->types[i].last);
		method_watchdog_suspect_sites(o, srv, sp->types[i].type);
	}
}

/* Where memory goes: resident memory the heaps do not account for, the
 * watched cgroup's breakdown, its OOM kills (the Stats snapshot's). False
 * if out of memory. */
static bool method_watchdog_memory(struct json *reply, struct server *srv)
{
	struct stats_snapshot s;
	struct json *m;

	if (server_stats(srv, &s) != 0)
		return false;
	m = json_add_object(reply, "memory");
	json_add_u64(m, "rss_bytes", s.process.process_rss_bytes);
	json_add_u64(m, "heaps_bytes", stats_heaps_bytes(&s.total));
	json_add_u64(m, "unaccounted_bytes",
		     s.process.process_unaccounted_bytes);
	json_add_u64(m, "cgroup_anon_bytes", s.process.cgroup_anon_bytes);
	json_add_u64(m, "cgroup_file_bytes", s.process.cgroup_file_bytes);
	json_add_u64(m, "cgroup_kernel_bytes", s.process.cgroup_kernel_bytes);
	json_add_u64(reply, "oom_kills_total",
		     s.process.cgroup_oom_kills_total);
	json_add_u64(reply, "oom_kills_at_start",
		     s.process.cgroup_oom_kills_at_start);
	stats_finish(&s);
	return true;
}

/* Report what the watchdog sees now. */
static enum call_status method_watchdog_exec(struct call *call)
{
	struct json *reply = call_reply(call);
	struct memwatch_status ws;
	const rcl_watchdog_stats *st = &ws.st;

	memwatch_status(call->srv->watch, &ws);
	json_add_bool(reply, "enabled", st->enabled);
	json_add_str(reply, "level", ws.level);
	json_add_u64(reply, "usage_bytes", st->usage_bytes);
	json_add_u64(reply, "rss_bytes", st->rss_bytes);
	json_add_u64(reply, "limit_bytes", st->limit_bytes);
	json_add_str(reply, "limit_source", ws.limit_source);
	json_add_str(reply, "limit_reason", st->limit_reason);
	json_add_str(reply, "cgroup", st->cgroup);
	json_add_str(reply, "notify", st->notify);
	method_watchdog_wakeups(reply, st);
	method_watchdog_levels(reply, st);
	json_add_u64(reply, "forced_collections_total", st->forced_total);
	json_add_u64(reply, "leak_suspected_total", ws.leaks);
	method_watchdog_suspects(reply, call->srv, &ws.suspects);
	method_watchdog_admission(reply, st);
	if (!method_watchdog_memory(reply, call->srv))
		return call_oom(call);
	return CALL_DONE;
}

const struct method_entry method_watchdog_entry = {
    .name = "io.reclaim.Watchdog",
    .params = "() -> (enabled: bool, level: string, usage_bytes: int, "
	      "rss_bytes: int, limit_bytes: int, limit_source: string, "
	      "limit_reason: string, cgroup: string, notify: string, "
	      "wakeups: [string]int, soft_bytes: int, hard_bytes: int, "
	      "level_changes: int, shedding: bool, shed_total: int, "
	      "throttled: bool, gc_cpu_fraction: float, poll_interval_ms: int, "
	      "reaction_last_ns: int, reaction_max_ns: int, "
	      "forced_collections_total: int, leak_suspected_total: int, "
	      "leak_suspects: []LeakSuspect, admission: Admission, "
	      "memory: Memory, oom_kills_total: int, oom_kills_at_start: int)",
    .changes_state = false,
    .exec = method_watchdog_exec,
};
