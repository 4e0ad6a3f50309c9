/* The stats snapshot: sum the workers, render as JSON, read it back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "xmalloc.h"

/* Room for nworkers per-worker copies, all zero. */
void stats_init(struct stats_snapshot *s, size_t nworkers)
{
	memset(s, 0, sizeof *s);
	s->nworkers = nworkers;
	s->workers = xcalloc(nworkers, sizeof *s->workers);
	snprintf(s->process.watchdog_level, sizeof s->process.watchdog_level,
		 "off");
}

/* Free the per-worker copies. */
void stats_finish(struct stats_snapshot *s)
{
	free(s->workers);
	s->workers = NULL;
	s->nworkers = 0;
}

/* Fold one worker's counters into the total. */
static void add_worker(struct stats_worker *t, const struct stats_worker *w)
{
#define SUM(a, b) ((a) + (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define X(sec, name, kind, agg, unit, help)                                    \
	t->STATS_FIELD(sec, name) =                                            \
	    agg(t->STATS_FIELD(sec, name), w->STATS_FIELD(sec, name));
	STATS_WORKER_FIELDS(X)
#undef X
#undef SUM
#undef MAX
}

/* Compute the totals from the per-worker copies. */
void stats_sum(struct stats_snapshot *s)
{
	size_t i;

	memset(&s->total, 0, sizeof s->total);
	for (i = 0; i < s->nworkers; i++)
		add_worker(&s->total, &s->workers[i]);
}

/* The object for section under parent, created on first use. */
static struct json *section(struct json *parent, const char *name)
{
	struct json *o = json_get(parent, name);

	return o != NULL ? o : json_add_object(parent, name);
}

/* Add the per-worker counters of w under j. */
static void worker_to_json(struct json *j, const struct stats_worker *w)
{
#define X(sec, name, kind, agg, unit, help)                                    \
	json_add_u64(section(j, #sec), #name, w->STATS_FIELD(sec, name));
	STATS_WORKER_FIELDS(X)
#undef X
}

/*
 * {"process": {...}, "limit": {...}, "heap": {...}, "watchdog": {...},
 *  "http": {...}, "workers": [{"id": 0, "heap": {...}, "http": {...}}]}
 */
struct json *stats_to_json(const struct stats_snapshot *s)
{
	struct json *j = json_object(), *arr, *w;
	size_t i;

#define X(sec, name, kind, unit, help)                                         \
	json_add_u64(section(j, #sec), #name,                                  \
		     s->process.STATS_FIELD(sec, name));
	STATS_PROCESS_FIELDS(X)
#undef X
	json_add_str(section(j, "watchdog"), "level",
		     s->process.watchdog_level);
	worker_to_json(j, &s->total);
	arr = json_add_array(j, "workers");
	for (i = 0; i < s->nworkers; i++) {
		w = json_add_object(arr, NULL);
		json_add_u64(w, "id", i);
		worker_to_json(w, &s->workers[i]);
	}
	return j;
}

/* Read the per-worker counters of w from j. */
static void worker_from_json(const struct json *j, struct stats_worker *w)
{
#define X(sec, name, kind, agg, unit, help)                                    \
	w->STATS_FIELD(sec, name) = json_path_u64(j, #sec "." #name);
	STATS_WORKER_FIELDS(X)
#undef X
}

/* Read a snapshot rendered by stats_to_json; -1 if it is not one. */
int stats_from_json(const struct json *j, struct stats_snapshot *s)
{
	const struct json *arr = json_get(j, "workers");
	const char *level;
	size_t i;

	if (json_type(j) != JSON_OBJECT || json_type(arr) != JSON_ARRAY)
		return -1;
	stats_init(s, json_size(arr));
#define X(sec, name, kind, unit, help)                                         \
	s->process.STATS_FIELD(sec, name) = json_path_u64(j, #sec "." #name);
	STATS_PROCESS_FIELDS(X)
#undef X
	level = json_as_str(json_path(j, "watchdog.level"));
	snprintf(s->process.watchdog_level, sizeof s->process.watchdog_level,
		 "%s", level ? level : "?");
	worker_from_json(j, &s->total);
	for (i = 0; i < s->nworkers; i++)
		worker_from_json(json_at(arr, i), &s->workers[i]);
	return 0;
}
