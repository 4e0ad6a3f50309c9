/*
 * The fixtures the watchdog's unit tests share (test_watchdog_*.c, one a
 * file of lib/watchdog/): a fake world (memory, a clock, what the hooks
 * saw), its source and hooks, and a watchdog made on it.
 */
#ifndef RECLAIM_TESTS_WATCHDOG_FAKE_H
#define RECLAIM_TESTS_WATCHDOG_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <reclaim/reclaim.h>
#include <reclaim/watchdog.h>

#define MiB ((uint64_t)1 << 20)
#define MS ((uint64_t)1000000)

/* The fake world: memory, a clock, and what the hooks saw. */
struct fake {
	uint64_t usage, limit, t;
	int fail;
	int collects[RCL_GENERATIONS];
	int last_reason;
	uint64_t young_frees, full_frees; /* usage a collection gives back */
	uint64_t collect_cost;		  /* clock advance per collection */
	int trims;
	bool shed;
	int shed_calls;
	size_t paced;
	int pace_calls;
	int pending;
	rcl_watchdog_heap_info hi;
	bool have_hi;
	rcl_type_stats census[4];
	size_t ncensus;
	rcl_watchdog_leak leak;
	int leaks;
	int from, to;
	int throttle_on, throttle_off; /* the throttle hook's calls */
};

/* The fake source's sample(). */
int fake_sample(void *ctx, rcl_watchdog_sample *out, bool refresh);
/* The fake clock. */
uint64_t fake_now(void *ctx);
/* A collection: frees what the test said and takes collect_cost. */
int fake_collect(void *arg, int gen, int reason);
/* Trim: counted. */
size_t fake_trim(void *arg);
/* Shedding flag. */
void fake_shed(void *arg, bool on);
/* Pacing: remembered. */
void fake_pace(void *arg, size_t bytes);
/* Heap figures: the test's. */
bool fake_info(void *arg, rcl_watchdog_heap_info *out);
/* Census: the test's. */
size_t fake_census(void *arg, rcl_type_stats *out, size_t max);
/* Leak events: remembered. */
void fake_leak(void *arg, const rcl_watchdog_leak *leak);
/* Level changes: remembered. */
void fake_level(void *arg, int from, int to);
/* Collection time throttled, or no longer: counted. */
void fake_throttle(void *arg, bool on);
/* A watchdog on the fake with a 1000 MiB limit, soft 80%, hard 95%, gap 5%. */
rcl_watchdog *make(struct fake *f, rcl_watchdog_config *cfg);
/* Move the clock and usage, then check. */
int step(rcl_watchdog *wd, struct fake *f, uint64_t usage, uint64_t ms);

#endif
