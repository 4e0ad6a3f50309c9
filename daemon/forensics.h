/*
 * Leak forensics on one heap: while attached, the collector's observer
 * groups each collection's unreachable set by type (objects and bytes, owned
 * payloads included) and finds, for each group, a representative cycle
 * through field names, counted by shape. With the heap recording sites
 * (rcl_heap_record_sites), each object is also counted under the task that
 * made it (its label), and each cycle's members under the rcl_new() call
 * that made them. Everything runs on the heap's own thread, bounded in time
 * and memory; detached, it costs nothing.
 */
#ifndef RECLAIMD_FORENSICS_H
#define RECLAIMD_FORENSICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <reclaim/heap.h>

#include "json.h"

/* Bounds: past them, the report says it is truncated. */
#define FX_TYPES 128	    /* types kept in one report */
#define FX_SHAPES 64	    /* cycle shapes kept in one report */
#define FX_CYCLE_MAX 12	    /* longest cycle searched, in edges */
#define FX_SEARCH_NODES 512 /* objects one cycle search may visit */
/* Objects all the searches of one collection may visit. */
#define FX_BUDGET_NODES 200000
/* Failed searches from one type, per collection, before it is skipped. */
#define FX_TYPE_FAILS 16
#define FX_COVERED 8192 /* objects placed in a cycle, per collection */
#define FX_TASKS 64	/* (task, type) rows kept in one report */
#define FX_SITES 64	/* (cycle, task, type, site) rows in one report */
#define FX_TOTALS 64	/* tasks in the running totals */
#define FX_NO_TASK "none" /* objects made outside any task */

/* What the collector found unreachable since the report was last read. */
struct garbage_report {
	uint64_t collections; /* collections that found garbage */
	uint64_t objects;
	uint64_t bytes;
	bool truncated; /* a bound was reached: counts are lower bounds */
	size_t ntypes;
	struct garbage_type {
		char *type;
		uint64_t count;
		uint64_t bytes;
	} * types;
	size_t ncycles;
	struct garbage_cycle {
		char *path; /* "Runner -yield_point-> Task -runner-> Runner" */
		uint64_t count;
		uint32_t length; /* edges */
	} * cycles;
	size_t ntasks; /* garbage by the task that made it */
	struct garbage_task {
		char *task; /* a route, a task's name, or "none" */
		char *type;
		uint64_t count;
		uint64_t bytes;
	} * tasks;
	size_t nsites; /* cycles' members by where they were made */
	struct garbage_site {
		char *cycle; /* a garbage_cycle's path */
		char *task;
		char *type;
		char *file; /* "" when unknown */
		char *func;
		uint32_t line;
		uint64_t count; /* members made there */
	} * sites;
};

/* Objects and bytes collected per task while leak debugging was on, since
 * the worker started: written by its thread, summed by the main thread
 * (rows are appended, never removed; a row's task is set before n counts
 * it). The tasks are the registry's: a bounded set. */
struct garbage_totals {
	atomic_size_t n;
	struct garbage_total {
		const char *task;
		atomic_uint_fast64_t objects;
		atomic_uint_fast64_t bytes;
	} t[FX_TOTALS];
};

struct forensics;

struct forensics *forensics_create(void);
void forensics_destroy(struct forensics *fx);
void forensics_attach(struct forensics *fx, rcl_heap *h,
		      struct garbage_totals *totals);
void forensics_detach(struct forensics *fx, rcl_heap *h);
void forensics_take(struct forensics *fx, bool peek,
		    struct garbage_report *out);

const char *forensics_source_path(const char *file);
void garbage_report_merge(struct garbage_report *into,
			  const struct garbage_report *from);
void garbage_report_sort(struct garbage_report *r);
void garbage_report_to_json(const struct garbage_report *r, struct json *reply);
void garbage_report_finish(struct garbage_report *r);

#endif
