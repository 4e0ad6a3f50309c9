/* The stats snapshot: sum the workers, render as JSON, read it back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

/* Room for nworkers per-worker copies, all zero; -1 (and none) if out of
 * memory. */
int stats_init(struct stats_snapshot *s, size_t nworkers)
{
	memset(s, 0, sizeof *s);
	snprintf(s->process.watchdog_level, sizeof s->process.watchdog_level,
		 "off");
	s->workers = calloc(nworkers ? nworkers : 1, sizeof *s->workers);
	if (s->workers == NULL)
		return -1;
	s->nworkers = nworkers;
	return 0;
}

/* Free the per-worker copies. */
void stats_finish(struct stats_snapshot *s)
{
	free(s->workers);
	s->workers = NULL;
	s->nworkers = 0;
}

/* Take a histogram of n buckets (the last +Inf) from a source. */
void stats_hist_set(struct stats_hist *h, const uint64_t *bounds_ns,
		    const uint64_t *counts, size_t n)
{
	size_t i;

	h->n = (uint32_t)(n < STATS_HIST_MAX ? n : STATS_HIST_MAX);
	for (i = 0; i < h->n; i++) {
		h->bounds_ns[i] = bounds_ns[i];
		h->counts[i] = counts[i];
	}
	for (; i < n; i++)
		h->counts[h->n - 1] += counts[i];
}

/* Observations in a histogram. */
uint64_t stats_hist_count(const struct stats_hist *h)
{
	uint64_t c = 0;
	uint32_t i;

	for (i = 0; i < h->n; i++)
		c += h->counts[i];
	return c;
}

/* Add w's buckets into t (same bounds: both come from the library). */
static void add_hist(struct stats_hist *t, const struct stats_hist *w)
{
	uint32_t i;

	if (t->n == 0) {
		*t = *w;
		return;
	}
	for (i = 0; i < t->n && i < w->n; i++)
		t->counts[i] += w->counts[i];
	t->sum_ns += w->sum_ns;
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
#define X(sec, name, help)                                                     \
	add_hist(&t->STATS_HIST(sec, name), &w->STATS_HIST(sec, name));
	STATS_WORKER_HISTOGRAMS(X)
#undef X
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

/* {"bounds_ns": [finite bounds], "counts": [n], "count", "sum_ns"} */
static void hist_to_json(struct json *parent, const char *key,
			 const struct stats_hist *h)
{
	struct json *o = json_add_object(parent, key);
	struct json *b = json_add_array(o, "bounds_ns");
	struct json *c = json_add_array(o, "counts");
	uint32_t i;

	for (i = 0; i < h->n; i++) {
		if (i + 1 < h->n)
			json_add_u64(b, NULL, h->bounds_ns[i]);
		json_add_u64(c, NULL, h->counts[i]);
	}
	json_add_u64(o, "count", stats_hist_count(h));
	if (h->has_sum)
		json_add_u64(o, "sum_ns", h->sum_ns);
}

/* Read a histogram rendered by hist_to_json. */
static void hist_from_json(const struct json *o, struct stats_hist *h)
{
	const struct json *b = json_get(o, "bounds_ns");
	const struct json *c = json_get(o, "counts");
	uint32_t i;

	memset(h, 0, sizeof *h);
	h->n = (uint32_t)json_size(c);
	if (h->n > STATS_HIST_MAX)
		h->n = STATS_HIST_MAX;
	for (i = 0; i < h->n; i++) {
		h->bounds_ns[i] =
		    i + 1 < h->n ? json_u64(json_at(b, i)) : UINT64_MAX;
		h->counts[i] = json_u64(json_at(c, i));
	}
	h->has_sum = json_as_u64(json_get(o, "sum_ns"), &h->sum_ns);
}

/* Add the per-worker counters of w under j. */
static void worker_to_json(struct json *j, const struct stats_worker *w)
{
#define X(sec, name, kind, agg, unit, help)                                    \
	json_add_u64(section(j, #sec), #name, w->STATS_FIELD(sec, name));
	STATS_WORKER_FIELDS(X)
#undef X
#define X(sec, name, help)                                                     \
	hist_to_json(section(j, #sec), #name "_histogram",                     \
		     &w->STATS_HIST(sec, name));
	STATS_WORKER_HISTOGRAMS(X)
#undef X
}

/* watchdog.leak_suspects: [{"type", "first", "last"}...] */
static void suspects_to_json(struct json *j, const struct stats_suspects *s)
{
	struct json *arr =
			json_add_array(section(j, "watchdog"), "leak_suspects"),
		    *o;
	size_t i;

	for (i = 0; i < s->n; i++) {
		o = json_add_object(arr, NULL);
		json_add_str(o, "type", s->types[i].type);
		json_add_u64(o, "first", s->types[i].first);
		json_add_u64(o, "last", s->types[i].last);
	}
}

/* Read watchdog.leak_suspects. */
static void suspects_from_json(const struct json *j, struct stats_suspects *s)
{
	const struct json *arr = json_path(j, "watchdog.leak_suspects"), *o;
	const char *type;

	memset(s, 0, sizeof *s);
	for (o = json_child(arr); o != NULL && s->n < STATS_SUSPECTS;
	     o = json_next(o)) {
		type = json_as_str(json_get(o, "type"));
		snprintf(s->types[s->n].type, sizeof s->types[s->n].type, "%s",
			 type ? type : "?");
		s->types[s->n].first = json_path_u64(o, "first");
		s->types[s->n].last = json_path_u64(o, "last");
		s->n++;
	}
}

/* garbage.by_task: [{"task", "objects_total", "bytes_total"}...] */
static void garbage_to_json(struct json *j, const struct stats_garbage *g)
{
	struct json *arr = json_add_array(section(j, "garbage"), "by_task"), *o;
	size_t i;

	for (i = 0; i < g->n; i++) {
		o = json_add_object(arr, NULL);
		json_add_str(o, "task", g->tasks[i].task);
		json_add_u64(o, "objects_total", g->tasks[i].objects);
		json_add_u64(o, "bytes_total", g->tasks[i].bytes);
	}
}

/* Read garbage.by_task. */
static void garbage_from_json(const struct json *j, struct stats_garbage *g)
{
	const struct json *arr = json_path(j, "garbage.by_task"), *o;
	const char *task;

	memset(g, 0, sizeof *g);
	for (o = json_child(arr); o != NULL && g->n < STATS_GARBAGE_TASKS;
	     o = json_next(o)) {
		task = json_as_str(json_get(o, "task"));
		snprintf(g->tasks[g->n].task, sizeof g->tasks[g->n].task, "%s",
			 task ? task : "?");
		g->tasks[g->n].objects = json_path_u64(o, "objects_total");
		g->tasks[g->n].bytes = json_path_u64(o, "bytes_total");
		g->n++;
	}
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
	STATS_STANDARD_FIELDS(X)
#undef X
	json_add_str(section(j, "process"), "version", s->process.version);
#define X(sec, name, help)                                                     \
	hist_to_json(section(j, #sec), #name "_histogram",                     \
		     &s->process.STATS_HIST(sec, name));
	STATS_PROCESS_HISTOGRAMS(X)
#undef X
	json_add_str(section(j, "watchdog"), "level",
		     s->process.watchdog_level);
	suspects_to_json(j, &s->process.suspects);
	garbage_to_json(j, &s->process.garbage);
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
#define X(sec, name, help)                                                     \
	hist_from_json(json_path(j, #sec "." #name "_histogram"),              \
		       &w->STATS_HIST(sec, name));
	STATS_WORKER_HISTOGRAMS(X)
#undef X
}

/* Read a snapshot rendered by stats_to_json; -1 if it is not one. */
int stats_from_json(const struct json *j, struct stats_snapshot *s)
{
	const struct json *arr = json_get(j, "workers");
	const char *level, *version;
	size_t i;

	if (json_type(j) != JSON_OBJECT || json_type(arr) != JSON_ARRAY)
		return -1;
	stats_init(s, json_size(arr));
#define X(sec, name, kind, unit, help)                                         \
	s->process.STATS_FIELD(sec, name) = json_path_u64(j, #sec "." #name);
	STATS_PROCESS_FIELDS(X)
	STATS_STANDARD_FIELDS(X)
#undef X
	version = json_as_str(json_path(j, "process.version"));
	snprintf(s->process.version, sizeof s->process.version, "%s",
		 version ? version : "?");
#define X(sec, name, help)                                                     \
	hist_from_json(json_path(j, #sec "." #name "_histogram"),              \
		       &s->process.STATS_HIST(sec, name));
	STATS_PROCESS_HISTOGRAMS(X)
#undef X
	suspects_from_json(j, &s->process.suspects);
	garbage_from_json(j, &s->process.garbage);
	level = json_as_str(json_path(j, "watchdog.level"));
	snprintf(s->process.watchdog_level, sizeof s->process.watchdog_level,
		 "%s", level ? level : "?");
	worker_from_json(j, &s->total);
	for (i = 0; i < s->nworkers; i++)
		worker_from_json(json_at(arr, i), &s->workers[i]);
	return 0;
}
