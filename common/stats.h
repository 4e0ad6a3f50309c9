/*
 * The stats snapshot: every counter is defined once here and rendered the
 * same way for io.reclaim.Stats, GET /metrics and reclaimctl. Workers keep
 * their own copy of the per-worker counters; the totals are summed on read.
 */
#ifndef RECLAIM_COMMON_STATS_H
#define RECLAIM_COMMON_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"

enum stats_kind { STATS_GAUGE, STATS_COUNTER };
enum stats_agg { STATS_SUM, STATS_MAX };

/* X(section, name, kind, how workers combine, unit, help) */
#define STATS_WORKER_FIELDS(X)                                                 \
	X(heap, objects, GAUGE, SUM, "objects", "live objects on the heap")    \
	X(heap, bytes, GAUGE, SUM, "bytes",                                    \
	  "bytes of live objects, headers and owned payloads included")        \
	X(heap, owned_bytes, GAUGE, SUM, "bytes",                              \
	  "of heap.bytes, payloads owned outside the heap")                    \
	X(heap, collections_total, COUNTER, SUM, "collections",                \
	  "cycle collections run")                                             \
	X(heap, collected_total, COUNTER, SUM, "objects",                      \
	  "objects the cycle collector found unreachable")                     \
	X(heap, allocations_total, COUNTER, SUM, "objects", "objects created") \
	X(heap, full_collections_total, COUNTER, SUM, "collections",           \
	  "collections of the oldest generation")                              \
	X(heap, survivor_bytes, GAUGE, SUM, "bytes",                           \
	  "bytes that survived the last full collection")                      \
	X(heap, old_objects, GAUGE, SUM, "objects",                            \
	  "objects in the oldest generation")                                  \
	X(heap, pause_total_ns, COUNTER, SUM, "nanoseconds",                   \
	  "time spent in cycle collections")                                   \
	X(heap, pause_max_ns, GAUGE, MAX, "nanoseconds",                       \
	  "longest cycle collection")                                          \
	X(http, requests_total, COUNTER, SUM, "requests",                      \
	  "HTTP requests answered")                                            \
	X(http, shed_total, COUNTER, SUM, "requests",                          \
	  "HTTP requests refused with 503 while shedding")

/* X(section, name, kind, unit, help) */
#define STATS_PROCESS_FIELDS(X)                                                \
	X(process, rss_bytes, GAUGE, "bytes", "resident set size")             \
	X(process, uptime_seconds, GAUGE, "seconds", "time since start")       \
	X(process, workers, GAUGE, "threads", "worker threads")                \
	X(limit, bytes, GAUGE, "bytes",                                        \
	  "memory limit the watchdog works against")                           \
	X(watchdog, forced_collections_total, COUNTER, "collections",          \
	  "collections the watchdog forced")

#define STATS_FIELD(sec, name) sec##_##name

struct stats_worker {
#define X(sec, name, kind, agg, unit, help) uint64_t STATS_FIELD(sec, name);
	STATS_WORKER_FIELDS(X)
#undef X
};

struct stats_process {
#define X(sec, name, kind, unit, help) uint64_t STATS_FIELD(sec, name);
	STATS_PROCESS_FIELDS(X)
#undef X
	char watchdog_level[16]; /* watchdog.level: a name such as "ok" */
};

struct stats_snapshot {
	struct stats_process process;
	struct stats_worker total; /* summed from workers by stats_sum */
	size_t nworkers;
	struct stats_worker *workers;
};

void stats_init(struct stats_snapshot *s, size_t nworkers);
void stats_finish(struct stats_snapshot *s);
void stats_sum(struct stats_snapshot *s);
struct json *stats_to_json(const struct stats_snapshot *s);
int stats_from_json(const struct json *j, struct stats_snapshot *s);

#endif
