/*
 * The stats snapshot: every counter is defined once here and rendered the
 * same way for io.reclaim.Stats, GET /metrics and reclaimctl. Workers keep
 * their own copy of the per-worker counters; the totals are summed on read.
 */
#ifndef RECLAIM_COMMON_STATS_H
#define RECLAIM_COMMON_STATS_H

#include <stdbool.h>
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
	X(heap, increments_total, COUNTER, SUM, "collections",                 \
	  "incremental collections: the young generations and a slice of "     \
	  "the oldest, closed under references")                               \
	X(heap, increments_oversized_total, COUNTER, SUM, "collections",       \
	  "increments that one object's closure made larger than "             \
	  "heap.increment_objects")                                            \
	X(heap, increment_pause_max_ns, GAUGE, MAX, "nanoseconds",             \
	  "longest increment")                                                 \
	X(heap, old_passes_total, COUNTER, SUM, "passes",                      \
	  "passes begun over the oldest generation (a full collection is "     \
	  "one)")                                                              \
	X(heap, old_pending_objects, GAUGE, SUM, "objects",                    \
	  "of heap.old_objects, at most this many not yet visited by the "     \
	  "current pass")                                                      \
	X(heap, refused_total, COUNTER, SUM, "allocations",                    \
	  "allocations refused because the memory would not fit under the "    \
	  "hard level or a task's budget")                                     \
	X(heap, refused_bytes_total, COUNTER, SUM, "bytes",                    \
	  "bytes the refused allocations asked for")                           \
	X(heap, admission_collections_total, COUNTER, SUM, "collections",      \
	  "collections an allocation ran before taking memory, past the "      \
	  "soft level")                                                        \
	X(heap, block_bytes, GAUGE, SUM, "bytes",                              \
	  "large blocks mapped for objects and payloads, cached ones "         \
	  "included")                                                          \
	X(heap, cached_bytes, GAUGE, SUM, "bytes",                             \
	  "of heap.block_bytes, freed blocks kept for reuse")                  \
	X(heap, pool_free_bytes, GAUGE, SUM, "bytes",                          \
	  "free pages of small objects kept resident for reuse")              \
	X(heap, sites_objects, GAUGE, SUM, "objects",                          \
	  "live objects whose allocation site is recorded (leak debugging)")   \
	X(heap, sites_bytes, GAUGE, SUM, "bytes",                              \
	  "memory of the record of allocation sites (leak debugging)")         \
	X(http, requests_total, COUNTER, SUM, "requests",                      \
	  "HTTP requests answered")                                            \
	X(http, shed_total, COUNTER, SUM, "requests",                          \
	  "HTTP requests refused with 503 while shedding")                     \
	X(tasks, started_total, COUNTER, SUM, "tasks",                         \
	  "task runs started: requests, on-demand, periodic, and the tasks "   \
	  "they wait for")                                                     \
	X(tasks, finished_total, COUNTER, SUM, "tasks",                        \
	  "task runs that ended with their result")                            \
	X(tasks, failed_total, COUNTER, SUM, "tasks",                          \
	  "task runs that ended with an error")                                \
	X(tasks, cancelled_total, COUNTER, SUM, "tasks",                       \
	  "task runs stopped at a yield point: the caller hung up, or "        \
	  "reclaimd stopped")                                                  \
	X(tasks, running, GAUGE, SUM, "tasks", "task runs in progress")        \
	X(tasks, out_of_memory_total, COUNTER, SUM, "tasks",                   \
	  "task runs that failed because memory was refused (503 or "          \
	  "io.reclaim.OutOfMemory)")

/* X(section, name, kind, unit, help) */
#define STATS_PROCESS_FIELDS(X)                                                \
	X(process, rss_bytes, GAUGE, "bytes", "resident set size")             \
	X(process, uptime_seconds, GAUGE, "seconds", "time since start")       \
	X(process, workers, GAUGE, "threads", "worker threads")                \
	X(limit, bytes, GAUGE, "bytes",                                        \
	  "memory limit the watchdog works against")                           \
	X(watchdog, forced_collections_total, COUNTER, "collections",          \
	  "collections the watchdog forced")                                   \
	X(watchdog, usage_bytes, GAUGE, "bytes",                               \
	  "memory counted against the limit")                                  \
	X(watchdog, leak_suspected_total, COUNTER, "events",                   \
	  "times the survivor floor rose across full collections")             \
	X(forensics, reports_total, COUNTER, "reports",                        \
	  "near-limit forensic reports written")                               \
	X(tasks, on_demand_running, GAUGE, "tasks",                            \
	  "RunTask calls whose task is running, what tasks.max_running caps")  \
	X(tasks, rejected_total, COUNTER, "calls",                             \
	  "RunTask calls refused at tasks.max_running")                        \
	X(process, unaccounted_bytes, GAUGE, "bytes",                          \
	  "resident memory the heaps do not account for: allocator "           \
	  "overhead, libraries, stacks, buffers")                              \
	X(watchdog, throttled_total, COUNTER, "collections",                   \
	  "forced collections held back by the collection CPU cap "            \
	  "(watchdog.gc_cpu_cap)")                                             \
	X(cgroup, anon_bytes, GAUGE, "bytes",                                  \
	  "anonymous memory of the watched cgroup (memory.stat)")              \
	X(cgroup, file_bytes, GAUGE, "bytes",                                  \
	  "page cache of the watched cgroup (memory.stat)")                    \
	X(cgroup, kernel_bytes, GAUGE, "bytes",                                \
	  "kernel memory of the watched cgroup, slab included")                \
	X(cgroup, oom_kills_total, COUNTER, "kills",                           \
	  "processes of the watched cgroup the kernel killed for memory "      \
	  "(the cgroup's oom_kill counter)")                                   \
	X(cgroup, oom_kills_at_start, GAUGE, "kills",                          \
	  "the cgroup's oom_kill counter when reclaimd started")

/*
 * The process figures every Prometheus client library exports: in JSON
 * under process like the fields above, in Prometheus text under their
 * standard names, without the reclaim_ prefix (prom.c), each with its
 * unit's base (seconds). Times are integers: JSON numbers past 2^53 lose
 * digits in most parsers. X(section, name, kind, unit, help)
 */
#define STATS_STANDARD_FIELDS(X)                                               \
	X(process, cpu_total_ns, COUNTER, "nanoseconds",                       \
	  "user and system CPU time")                                          \
	X(process, virtual_bytes, GAUGE, "bytes", "virtual memory size")       \
	X(process, open_fds, GAUGE, "descriptors", "open file descriptors")    \
	X(process, max_fds, GAUGE, "descriptors",                              \
	  "the limit on open file descriptors (RLIMIT_NOFILE)")                \
	X(process, start_time_ms, GAUGE, "milliseconds",                       \
	  "start time, since the Unix epoch")

/*
 * Histograms, counts per bucket (not cumulative), in nanoseconds.
 * X(section, name, help); rendered as section.name_histogram in JSON and
 * reclaim_section_name_seconds in Prometheus text.
 */
#define STATS_WORKER_HISTOGRAMS(X)                                             \
	X(heap, pause, "cycle collection pauses")                             \
	X(heap, increment_pause, "incremental collection pauses")
#define STATS_PROCESS_HISTOGRAMS(X)                                            \
	X(watchdog, reaction,                                                  \
	  "watchdog reactions, from a wake-up to the end of its action")

#define STATS_HIST_MAX 24

struct stats_hist {
	uint32_t n;			    /* buckets, the +Inf one included */
	uint64_t bounds_ns[STATS_HIST_MAX]; /* upper bounds; the last is +Inf */
	uint64_t counts[STATS_HIST_MAX];
	uint64_t sum_ns;
	bool has_sum; /* false: the source keeps no sum */
};

/* The watchdog's last "leak suspected" event: types whose survivors rose. */
#define STATS_SUSPECTS 16
struct stats_suspects {
	size_t n;
	struct stats_suspect {
		char type[64];
		uint64_t first; /* survivors at the start of the rise */
		uint64_t last;	/* and at its end */
	} types[STATS_SUSPECTS];
};

/* Garbage the collector found, per task that made it, while leak
 * debugging was on (the registry's tasks and "none": a bounded set). */
#define STATS_GARBAGE_TASKS 64
struct stats_garbage {
	size_t n;
	struct stats_garbage_task {
		char task[80];
		uint64_t objects;
		uint64_t bytes;
	} tasks[STATS_GARBAGE_TASKS];
};

#define STATS_FIELD(sec, name) sec##_##name
#define STATS_HIST(sec, name) sec##_##name##_hist

struct stats_worker {
#define X(sec, name, kind, agg, unit, help) uint64_t STATS_FIELD(sec, name);
	STATS_WORKER_FIELDS(X)
#undef X
#define X(sec, name, help) struct stats_hist STATS_HIST(sec, name);
	STATS_WORKER_HISTOGRAMS(X)
#undef X
};

/* What the heaps of w hold resident: live bytes, cached blocks, free
 * pool pages. */
static inline uint64_t stats_heaps_bytes(const struct stats_worker *w)
{
	return w->heap_bytes + w->heap_cached_bytes + w->heap_pool_free_bytes;
}

struct stats_process {
#define X(sec, name, kind, unit, help) uint64_t STATS_FIELD(sec, name);
	STATS_PROCESS_FIELDS(X)
	STATS_STANDARD_FIELDS(X)
#undef X
#define X(sec, name, help) struct stats_hist STATS_HIST(sec, name);
	STATS_PROCESS_HISTOGRAMS(X)
#undef X
	char watchdog_level[16]; /* watchdog.level: a name such as "ok" */
	char version[32];	 /* process.version: reclaimd's */
	struct stats_suspects suspects; /* watchdog.leak_suspects */
	struct stats_garbage garbage;	/* garbage.by_task */
};

struct stats_snapshot {
	struct stats_process process;
	struct stats_worker total; /* summed from workers by stats_sum */
	size_t nworkers;
	struct stats_worker *workers;
};

int stats_init(struct stats_snapshot *s, size_t nworkers);
void stats_finish(struct stats_snapshot *s);
void stats_sum(struct stats_snapshot *s);
void stats_hist_set(struct stats_hist *h, const uint64_t *bounds_ns,
		    const uint64_t *counts, size_t n);
uint64_t stats_hist_count(const struct stats_hist *h);
struct json *stats_to_json(const struct stats_snapshot *s);
int stats_from_json(const struct json *j, struct stats_snapshot *s);

#endif
