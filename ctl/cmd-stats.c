/* Show the stats snapshot: process figures, then a row per worker. */
#include <stdlib.h>

#include "human.h"
#include "reclaimctl.h"
#include "stats.h"

/* One worker's row (or the total's). */
static void cmd_stats_row(struct table *t, const char *name,
			  const struct stats_worker *w)
{
	char b[HUMAN_LEN], p[HUMAN_LEN];

	table_add(t, "%s", name);
	table_add(t, "%llu", (unsigned long long)w->heap_objects);
	table_add(t, "%s", human_bytes(w->heap_bytes, b));
	table_add(t, "%llu", (unsigned long long)w->heap_collections_total);
	table_add(t, "%llu", (unsigned long long)w->heap_collected_total);
	table_add(t, "%s", human_ns(w->heap_pause_total_ns, p));
	table_add(t, "%llu", (unsigned long long)w->http_requests_total);
	table_add(t, "%llu", (unsigned long long)w->http_shed_total);
	table_add(t, "%llu", (unsigned long long)w->tasks_started_total);
	table_add(t, "%llu", (unsigned long long)w->tasks_running);
}

/* The per-worker table. */
static void cmd_stats_workers(const struct stats_snapshot *s)
{
	static const char *const headers[] = {
	    "WORKER",  "OBJECTS",  "BYTES", "COLLECTIONS", "COLLECTED",
	    "GC TIME", "REQUESTS", "SHED",  "TASKS",	   "RUNNING"};
	struct table *t = table_create(10, headers);
	char name[24];
	size_t i, c;

	for (c = 1; c < 10; c++)
		table_right(t, c);
	for (i = 0; i < s->nworkers; i++) {
		snprintf(name, sizeof name, "%zu", i);
		cmd_stats_row(t, name, &s->workers[i]);
	}
	cmd_stats_row(t, "total", &s->total);
	table_print(t, stdout);
	table_destroy(t);
}

/* The task counters: where they stand against tasks.max_running, and how
 * the runs ended (started = finished + failed + cancelled + running). */
static void cmd_stats_tasks(const struct json *reply,
			    const struct stats_snapshot *s)
{
	const struct stats_worker *t = &s->total;

	kv_print("tasks",
		 "%llu running (%llu of %llu on demand); %llu started, %llu "
		 "finished, %llu failed, %llu cancelled; %llu refused",
		 (unsigned long long)t->tasks_running,
		 (unsigned long long)s->process.tasks_on_demand_running,
		 (unsigned long long)json_path_u64(reply, "tasks.max_running"),
		 (unsigned long long)t->tasks_started_total,
		 (unsigned long long)t->tasks_finished_total,
		 (unsigned long long)t->tasks_failed_total,
		 (unsigned long long)t->tasks_cancelled_total,
		 (unsigned long long)s->process.tasks_rejected_total);
}

/* Human output of a Stats reply. */
static int cmd_stats_human(const struct json *reply)
{
	struct stats_snapshot s;
	char a[HUMAN_LEN], b[HUMAN_LEN];
	struct json *thr;

	if (stats_from_json(reply, &s) != 0) {
		fputs("reclaimctl: stats: unexpected reply\n", stderr);
		return CTL_DAEMON_ERROR;
	}
	kv_print("rss", "%s of %s (%.1f%%)",
		 human_bytes(s.process.process_rss_bytes, a),
		 human_bytes(s.process.limit_bytes, b),
		 s.process.limit_bytes
		     ? 100.0 * (double)s.process.process_rss_bytes /
			   (double)s.process.limit_bytes
		     : 0.0);
	kv_print("watchdog level", "%s", s.process.watchdog_level);
	kv_print(
	    "forced collections", "%llu",
	    (unsigned long long)s.process.watchdog_forced_collections_total);
	thr = json_path(reply, "heap.thresholds");
	kv_print("thresholds", "%llu,%llu,%llu, young bytes %s",
		 (unsigned long long)json_u64(json_at(thr, 0)),
		 (unsigned long long)json_u64(json_at(thr, 1)),
		 (unsigned long long)json_u64(json_at(thr, 2)),
		 human_bytes(json_path_u64(reply, "heap.young_bytes"), a));
	kv_print("pauses", "longest %s; %llu increments (longest %s, %llu "
		 "oversized), %llu passes of the oldest generation, %llu of "
		 "its object walks left",
		 human_ns(s.total.heap_pause_max_ns, a),
		 (unsigned long long)s.total.heap_increments_total,
		 human_ns(s.total.heap_increment_pause_max_ns, b),
		 (unsigned long long)s.total.heap_increments_oversized_total,
		 (unsigned long long)s.total.heap_old_passes_total,
		 (unsigned long long)s.total.heap_old_pending_objects);
	cmd_stats_tasks(reply, &s);
	kv_print("uptime", "%llu s",
		 (unsigned long long)s.process.process_uptime_seconds);
	putchar('\n');
	cmd_stats_workers(&s);
	stats_finish(&s);
	return CTL_OK;
}

/* stats */
static int cmd_stats_exec(struct ctl *ctl, int argc, char **argv)
{
	return ctl_simple(ctl, "io.reclaim.Stats", NULL, cmd_stats_human);
}

const struct cmd_entry cmd_stats_entry = {
    .name = "stats",
    .usage = "",
    .help = "heap, HTTP and watchdog figures, per worker and in total",
    .min_args = 0,
    .max_args = 0,
    .exec = cmd_stats_exec,
};
