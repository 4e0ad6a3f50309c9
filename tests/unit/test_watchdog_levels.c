/* The watchdog's levels and reactions (lib/watchdog/watchdog.c), driven by
 * the fake memory source of watchdog_fake.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <reclaim/reclaim.h>
#include <reclaim/watchdog.h>

#include "unit.h"
#include "watchdog_fake.h"

/* Each level is entered at its threshold. */
static void test_levels_up(void **state)
{
	struct fake f = {0};
	rcl_watchdog *wd;

	f.usage = 100 * MiB;
	wd = make(&f, NULL);
	assert_int_equal(rcl_watchdog_level(wd), RCL_WATCHDOG_NORMAL);
	assert_int_equal(step(wd, &f, 799 * MiB, 10), RCL_WATCHDOG_NORMAL);
	assert_int_equal(step(wd, &f, 800 * MiB, 10), RCL_WATCHDOG_ELEVATED);
	assert_int_equal(f.to, RCL_WATCHDOG_ELEVATED);
	assert_int_equal(step(wd, &f, 950 * MiB, 10), RCL_WATCHDOG_SHEDDING);
	assert_true(f.shed);
	rcl_watchdog_destroy(wd);
	assert_false(f.shed); /* destroy lifts shedding */
}

/* Hysteresis: a level is left only a gap below its threshold. */
static void test_hysteresis(void **state)
{
	struct fake f = {0};
	rcl_watchdog *wd;

	f.usage = 100 * MiB;
	f.young_frees = 0;
	wd = make(&f, NULL);
	assert_int_equal(step(wd, &f, 810 * MiB, 10), RCL_WATCHDOG_ELEVATED);
	assert_int_equal(step(wd, &f, 790 * MiB, 10), RCL_WATCHDOG_ELEVATED);
	assert_int_equal(step(wd, &f, 751 * MiB, 10), RCL_WATCHDOG_ELEVATED);
	assert_int_equal(step(wd, &f, 805 * MiB, 10), RCL_WATCHDOG_ELEVATED);
	assert_int_equal(step(wd, &f, 749 * MiB, 10), RCL_WATCHDOG_NORMAL);
	assert_int_equal(step(wd, &f, 799 * MiB, 10), RCL_WATCHDOG_NORMAL);
	/* critical: full collections that free nothing -> shedding, kept
	 * while usage stays over hard - gap */
	assert_int_equal(step(wd, &f, 960 * MiB, 10), RCL_WATCHDOG_SHEDDING);
	assert_int_equal(step(wd, &f, 910 * MiB, 10), RCL_WATCHDOG_SHEDDING);
	assert_true(f.shed);
	assert_int_equal(step(wd, &f, 899 * MiB, 10), RCL_WATCHDOG_ELEVATED);
	assert_false(f.shed);
	assert_int_equal(step(wd, &f, 700 * MiB, 10), RCL_WATCHDOG_NORMAL);
	rcl_watchdog_destroy(wd);
}

/* Elevated: a young collection and a trim, enough when it frees. */
static void test_elevated_young(void **state)
{
	struct fake f = {0};
	rcl_watchdog_stats st;
	rcl_watchdog *wd;

	f.usage = 100 * MiB;
	f.young_frees = 100 * MiB;
	wd = make(&f, NULL);
	step(wd, &f, 820 * MiB, 10);
	assert_int_equal(f.collects[0], 1);
	assert_int_equal(f.collects[2], 0);
	assert_int_equal(f.trims, 1);
	assert_int_equal(f.last_reason, RCL_WATCHDOG_REASON_LEVEL);
	assert_int_equal(rcl_watchdog_level(wd), RCL_WATCHDOG_NORMAL);
	rcl_watchdog_stats_get(wd, &st);
	assert_int_equal(st.forced_young, 1);
	assert_int_equal(
	    st.forced[RCL_WATCHDOG_REASON_LEVEL][RCL_WATCHDOG_ELEVATED], 1);
	assert_int_equal(st.trims, 1);
	assert_int_equal(st.trim_bytes, 4096);
	assert_int_equal(st.entered_level[RCL_WATCHDOG_ELEVATED], 1);
	rcl_watchdog_destroy(wd);
}

/* Elevated: a full collection when the young one is not enough. */
static void test_elevated_escalates(void **state)
{
	struct fake f = {0};
	rcl_watchdog *wd;

	f.usage = 100 * MiB;
	f.young_frees = 1 * MiB;
	f.full_frees = 300 * MiB;
	wd = make(&f, NULL);
	step(wd, &f, 850 * MiB, 10);
	assert_int_equal(f.collects[0], 1);
	assert_int_equal(f.collects[2], 1);
	assert_int_equal(f.trims, 2);
	assert_int_equal(rcl_watchdog_level(wd), RCL_WATCHDOG_NORMAL);
	rcl_watchdog_destroy(wd);
}

/* Critical: full collection and trim; shedding only if still over hard. */
static void test_critical(void **state)
{
	struct fake f = {0};
	rcl_watchdog_stats st;
	rcl_watchdog *wd;

	f.usage = 100 * MiB;
	f.full_frees = 100 * MiB;
	wd = make(&f, NULL);
	assert_int_equal(step(wd, &f, 960 * MiB, 10), RCL_WATCHDOG_ELEVATED);
	assert_int_equal(f.collects[2], 1);
	assert_false(f.shed);
	f.full_frees = 0;
	assert_int_equal(step(wd, &f, 990 * MiB, 10), RCL_WATCHDOG_SHEDDING);
	assert_true(f.shed);
	rcl_watchdog_count_shed(wd);
	rcl_watchdog_stats_get(wd, &st);
	assert_int_equal(st.shed_total, 1);
	assert_int_equal(st.shed_requests, 1);
	assert_true(st.shedding);
	assert_int_equal(st.forced_full, 2);
	assert_int_equal(
	    st.forced[RCL_WATCHDOG_REASON_LEVEL][RCL_WATCHDOG_CRITICAL], 2);
	rcl_watchdog_destroy(wd);
}

/* A level's action is not repeated at every sample, only when usage rises
 * by a step or the repeat interval passed. */
static void test_repeat(void **state)
{
	struct fake f = {0};
	rcl_watchdog *wd;

	f.usage = 100 * MiB;
	wd = make(&f, NULL);
	step(wd, &f, 820 * MiB, 10);
	assert_int_equal(f.collects[0], 1);
	step(wd, &f, 825 * MiB, 10);
	step(wd, &f, 830 * MiB, 10);
	assert_int_equal(f.collects[0], 1);
	step(wd, &f, 860 * MiB, 10); /* +1/32 of the limit */
	assert_int_equal(f.collects[0], 2);
	step(wd, &f, 860 * MiB, 1000);
	assert_int_equal(f.collects[0], 3);
	rcl_watchdog_destroy(wd);
}

/* The GC CPU cap: past half of the window in collections, no more
 * collections; shedding instead, and the counter says so. */
static void test_cpu_cap(void **state)
{
	struct fake f = {0};
	rcl_watchdog_stats st;
	rcl_watchdog *wd;

	f.usage = 100 * MiB;
	f.full_frees = 0;
	f.collect_cost = 300 * MS;
	wd = make(&f, NULL);
	/* elevated: young (300 ms) then full (300 ms): 60% of 1 s */
	step(wd, &f, 850 * MiB, 10);
	assert_int_equal(f.collects[0], 1);
	assert_int_equal(f.collects[2], 1);
	step(wd, &f, 890 * MiB, 10);
	assert_int_equal(f.collects[0], 1);
	assert_int_equal(rcl_watchdog_level(wd), RCL_WATCHDOG_SHEDDING);
	rcl_watchdog_stats_get(wd, &st);
	assert_int_equal(st.throttle_events, 1);
	assert_true(st.throttled);
	assert_true(st.gc_cpu_fraction >= 0.5);
	assert_int_equal(f.throttle_on, 1); /* the hook, once */
	assert_int_equal(f.throttle_off, 0);
	/* still throttled, still over soft - gap: shedding holds */
	step(wd, &f, 800 * MiB, 100);
	assert_int_equal(rcl_watchdog_level(wd), RCL_WATCHDOG_SHEDDING);
	assert_int_equal(f.throttle_on, 1);
	/* the window slides past the collections: allowed again */
	f.collect_cost = 1 * MS;
	f.full_frees = 300 * MiB;
	step(wd, &f, 960 * MiB, 1500);
	assert_int_equal(f.collects[2], 2);
	rcl_watchdog_stats_get(wd, &st);
	assert_false(st.throttled);
	assert_int_equal(rcl_watchdog_level(wd), RCL_WATCHDOG_NORMAL);
	assert_int_equal(f.throttle_on, 1);
	assert_int_equal(f.throttle_off, 1); /* the collection ran: once */
	rcl_watchdog_destroy(wd);
}

/* The CPU cap also counts the heaps' own collection time. */
static void test_cpu_cap_heap_time(void **state)
{
	struct fake f = {0};
	rcl_watchdog_stats st;
	rcl_watchdog *wd;

	f.usage = 100 * MiB;
	f.have_hi = true;
	wd = make(&f, NULL);
	f.hi.gc_ns += 600 * MS;
	step(wd, &f, 850 * MiB, 100);
	assert_int_equal(f.collects[0], 0);
	rcl_watchdog_stats_get(wd, &st);
	assert_int_equal(st.throttle_events, 1);
	assert_int_equal(rcl_watchdog_level(wd), RCL_WATCHDOG_SHEDDING);
	rcl_watchdog_destroy(wd);
}

/* A heap of 20 MiB and 1000 objects, all survivors of the last full
 * collection, at 100 MiB of usage. */
static void growth_heap(struct fake *f)
{
	f->usage = 100 * MiB;
	f->have_hi = true;
	f->hi.survivor_bytes = 20 * MiB;
	f->hi.survivor_objects = 1000;
	f->hi.bytes = 20 * MiB;
	f->hi.objects = 1000;
}

/* Growth: past (1 + ratio) x the survivor floor, a full collection. */
static void test_growth(void **state)
{
	struct fake f = {0};
	rcl_watchdog_stats st;
	rcl_watchdog *wd;

	growth_heap(&f);
	wd = make(&f, NULL);
	f.hi.bytes = 40 * MiB; /* exactly 2x: not past */
	step(wd, &f, 100 * MiB, 10);
	assert_int_equal(f.collects[2], 0);
	f.hi.bytes = 41 * MiB;
	step(wd, &f, 100 * MiB, 10);
	assert_int_equal(f.collects[2], 1);
	assert_int_equal(f.last_reason, RCL_WATCHDOG_REASON_GROWTH);
	rcl_watchdog_stats_get(wd, &st);
	assert_int_equal(
	    st.forced[RCL_WATCHDOG_REASON_GROWTH][RCL_WATCHDOG_NORMAL], 1);
	/* objects too, by the minimum count */
	f.hi.survivor_bytes = 41 * MiB;
	f.hi.objects = 200000;
	step(wd, &f, 100 * MiB, 2000);
	assert_int_equal(f.collects[2], 2);
	/* small heaps are left alone: below growth_min_bytes */
	f.hi.survivor_objects = 200000;
	f.hi.survivor_bytes = 1 * MiB;
	f.hi.bytes = 10 * MiB;
	f.hi.full_collections++;
	step(wd, &f, 100 * MiB, 2000);
	step(wd, &f, 100 * MiB, 2000);
	assert_int_equal(f.collects[2], 2);
	rcl_watchdog_destroy(wd);
}

/* Incremental heaps: the same growth forces nothing (their passes pace old
 * garbage); a level still forces its full collection. */
static void test_growth_incremental(void **state)
{
	struct fake f = {0};
	rcl_watchdog *wd;

	(void)state;
	growth_heap(&f);
	f.hi.incremental = true;
	wd = make(&f, NULL);
	f.hi.bytes = 80 * MiB;
	f.hi.objects = 400000;
	step(wd, &f, 100 * MiB, 10);
	step(wd, &f, 100 * MiB, 2000);
	assert_int_equal(f.collects[2], 0);
	f.hi.incremental = false; /* not all of them: the rule again */
	step(wd, &f, 100 * MiB, 2000);
	assert_int_equal(f.collects[2], 1);
	assert_int_equal(f.last_reason, RCL_WATCHDOG_REASON_GROWTH);
	rcl_watchdog_destroy(wd);
}

/* Set the fake census: Runner, Task, Other with these counts. */
static void census(struct fake *f, size_t runners, size_t tasks, size_t others)
{
	static const rcl_type types[3] = {
	    {.name = "Runner"}, {.name = "Task"}, {.name = "Other"}};
	size_t counts[3] = {runners, tasks, others};
	int i;

	for (i = 0; i < 3; i++) {
		f->census[i].type = &types[i];
		f->census[i].name = types[i].name;
		f->census[i].objects = counts[i];
		f->census[i].bytes = counts[i] * 64;
	}
	f->ncensus = 3;
}

/* A full collection with this survivor floor and census. */
static void full_with_floor(rcl_watchdog *wd, struct fake *f, size_t floor,
			    size_t runners, size_t others)
{
	f->hi.full_collections++;
	f->hi.survivor_bytes = floor;
	f->hi.bytes = floor;
	census(f, runners, runners, others);
	step(wd, f, 100 * MiB, 10);
}

/* Leak suspected: the floor rose across 3 full collections; the event
 * names the types whose survivors rose, not the flat one. */
static void test_leak(void **state)
{
	struct fake f = {0};
	rcl_watchdog_stats st;
	rcl_watchdog *wd;

	f.usage = 100 * MiB;
	f.have_hi = true;
	wd = make(&f, NULL);
	full_with_floor(wd, &f, 10 * MiB, 100, 50);
	full_with_floor(wd, &f, 11 * MiB, 200, 50);
	full_with_floor(wd, &f, 12 * MiB, 300, 50);
	assert_int_equal(f.leaks, 0);
	full_with_floor(wd, &f, 13 * MiB, 400, 50);
	assert_int_equal(f.leaks, 1);
	assert_int_equal(f.leak.collections, 3);
	assert_int_equal(f.leak.floor_first_bytes, 10 * MiB);
	assert_int_equal(f.leak.floor_last_bytes, 13 * MiB);
	assert_int_equal(f.leak.ntypes, 2);
	assert_string_equal(f.leak.types[0].name, "Runner");
	assert_int_equal(f.leak.types[0].first, 100);
	assert_int_equal(f.leak.types[0].last, 400);
	assert_string_equal(f.leak.types[1].name, "Task");
	rcl_watchdog_stats_get(wd, &st);
	assert_int_equal(st.leak_suspected, 1);
	assert_int_equal(st.survivor_floor_bytes, 13 * MiB);
	/* a floor that falls breaks the run */
	full_with_floor(wd, &f, 12 * MiB, 100, 50);
	full_with_floor(wd, &f, 13 * MiB, 200, 50);
	full_with_floor(wd, &f, 14 * MiB, 300, 50);
	assert_int_equal(f.leaks, 1);
	full_with_floor(wd, &f, 15 * MiB, 400, 50);
	assert_int_equal(f.leaks, 2);
	rcl_watchdog_destroy(wd);
}

/* A floor that rises by less than leak_min_bytes is not a leak. */
static void test_leak_small(void **state)
{
	struct fake f = {0};
	rcl_watchdog *wd;

	f.usage = 100 * MiB;
	f.have_hi = true;
	wd = make(&f, NULL);
	full_with_floor(wd, &f, 10 * MiB, 100, 50);
	full_with_floor(wd, &f, 10 * MiB + 1000, 101, 50);
	full_with_floor(wd, &f, 10 * MiB + 2000, 102, 50);
	full_with_floor(wd, &f, 10 * MiB + 3000, 103, 50);
	assert_int_equal(f.leaks, 0);
	rcl_watchdog_destroy(wd);
}

/* Pacing: from half the limit, the young trigger is a quarter of the
 * headroom to hard, capped by the base and floored at the minimum. */
static void test_pacing(void **state)
{
	struct fake f = {0};
	rcl_watchdog_config c;
	rcl_watchdog *wd;

	rcl_watchdog_config_init(&c);
	c.young_bytes = 64 * MiB;
	f.usage = 100 * MiB;
	wd = make(&f, &c);
	assert_int_equal(f.pace_calls, 0);
	step(wd, &f, 500 * MiB, 10); /* headroom 450 MiB / 4 > base */
	assert_int_equal(f.pace_calls, 0);
	step(wd, &f, 750 * MiB, 10); /* headroom 200 MiB / 4 = 50 MiB */
	assert_int_equal(f.paced, 50 * MiB);
	step(wd, &f, 752 * MiB, 10); /* within an eighth: left alone */
	assert_int_equal(f.pace_calls, 1);
	f.young_frees = 0;
	step(wd, &f, 948 * MiB, 10);
	assert_int_equal(f.paced, 1 * MiB);
	f.full_frees = 900 * MiB;
	step(wd, &f, 100 * MiB, 10);
	assert_int_equal(f.paced, 64 * MiB); /* back to the base */
	rcl_watchdog_destroy(wd);
}

/* Pacing with byte pacing off: a trigger near the limit, 0 far from it. */
static void test_pacing_from_off(void **state)
{
	struct fake f = {0};
	rcl_watchdog_config c;
	rcl_watchdog *wd;

	rcl_watchdog_config_init(&c);
	c.young_bytes = 0;
	c.workers = 2;
	f.usage = 100 * MiB;
	wd = make(&f, &c);
	step(wd, &f, 550 * MiB, 10);
	assert_int_equal(f.paced, 50 * MiB); /* 400 / 4 / 2 workers */
	step(wd, &f, 100 * MiB, 10);
	assert_int_equal(f.paced, 0);
	rcl_watchdog_destroy(wd);
}

/* Reaction time runs from the wake-up to the end of the collection. */
static void test_reaction_time(void **state)
{
	struct fake f = {0};
	rcl_watchdog_stats st;
	rcl_watchdog *wd;

	f.usage = 100 * MiB;
	f.young_frees = 500 * MiB;
	f.collect_cost = 3 * MS;
	wd = make(&f, NULL);
	f.usage = 850 * MiB;
	rcl_watchdog_notify(wd, RCL_WATCHDOG_WAKE_THRESHOLD);
	rcl_watchdog_stats_get(wd, &st);
	assert_int_equal(st.reactions, 1);
	assert_int_equal(st.reaction_last_ns, 3 * MS);
	assert_int_equal(st.reaction_hist[5], 1); /* <= 5 ms */
	assert_int_equal(st.wakeups[RCL_WATCHDOG_WAKE_THRESHOLD], 1);
	rcl_watchdog_destroy(wd);
}

/* The poll interval shortens as usage nears the next threshold. */
static void test_poll_interval(void **state)
{
	struct fake f = {0};
	rcl_watchdog_stats st;
	uint32_t far, near;
	rcl_watchdog *wd;

	f.usage = 10 * MiB;
	wd = make(&f, NULL);
	rcl_watchdog_stats_get(wd, &st);
	far = st.poll_interval_ms;
	step(wd, &f, 780 * MiB, 10);
	rcl_watchdog_stats_get(wd, &st);
	near = st.poll_interval_ms;
	assert_true(far > near);
	assert_true(near >= 10);
	assert_int_equal(far, 96); /* 790 MiB at 8 GiB/s */
	f.young_frees = 0;
	step(wd, &f, 960 * MiB, 10);
	rcl_watchdog_stats_get(wd, &st);
	assert_int_equal(st.poll_interval_ms, 10);
	rcl_watchdog_destroy(wd);
}

/* Time in each level is accounted. */
static void test_time_in_level(void **state)
{
	struct fake f = {0};
	rcl_watchdog_stats st;
	rcl_watchdog *wd;

	f.usage = 10 * MiB;
	wd = make(&f, NULL);
	step(wd, &f, 10 * MiB, 100);
	step(wd, &f, 810 * MiB, 200);
	step(wd, &f, 810 * MiB, 300);
	rcl_watchdog_stats_get(wd, &st);
	assert_int_equal(st.time_in_level_ns[RCL_WATCHDOG_NORMAL], 300 * MS);
	assert_int_equal(st.time_in_level_ns[RCL_WATCHDOG_ELEVATED], 300 * MS);
	assert_int_equal(st.level_changes, 1);
	rcl_watchdog_destroy(wd);
}

/* An asynchronous host: the reaction ends at rcl_watchdog_collect_done(). */
static void test_async_collect(void **state)
{
	struct fake f = {0};
	rcl_watchdog_stats st;
	rcl_watchdog *wd;

	f.usage = 10 * MiB;
	f.pending = 1;
	wd = make(&f, NULL);
	f.usage = 850 * MiB;
	rcl_watchdog_notify(wd, RCL_WATCHDOG_WAKE_THRESHOLD);
	assert_int_equal(f.collects[0], 1);
	step(wd, &f, 870 * MiB, 1000); /* still pending: nothing more */
	assert_int_equal(f.collects[0] + f.collects[2], 1);
	f.pending = 0;
	f.t += 4 * MS;
	f.usage = 100 * MiB;
	rcl_watchdog_collect_done(wd);
	rcl_watchdog_stats_get(wd, &st);
	assert_int_equal(st.reactions, 1);
	assert_int_equal(st.reaction_last_ns, 1004 * MS);
	assert_int_equal(rcl_watchdog_level(wd), RCL_WATCHDOG_NORMAL);
	rcl_watchdog_destroy(wd);
}

/* With an asynchronous host, a full collection at critical that frees
 * nothing leads to shedding when it completes, as a synchronous one does
 * (reclaimd's hook is asynchronous: without this it never shed). */
static void test_async_critical_sheds(void **state)
{
	struct fake f = {0};
	rcl_watchdog *wd;

	f.usage = 10 * MiB;
	f.pending = 1;
	wd = make(&f, NULL);
	f.usage = 990 * MiB;
	rcl_watchdog_notify(wd, RCL_WATCHDOG_WAKE_THRESHOLD);
	assert_int_equal(f.collects[2], 1);
	assert_false(f.shed);
	f.pending = 0;
	f.t += 4 * MS;
	rcl_watchdog_collect_done(wd); /* freed nothing: still over hard */
	assert_int_equal(rcl_watchdog_level(wd), RCL_WATCHDOG_SHEDDING);
	assert_true(f.shed);
	/* usage falling back lifts it at the next sample */
	assert_int_equal(step(wd, &f, 100 * MiB, 10), RCL_WATCHDOG_NORMAL);
	assert_false(f.shed);
	rcl_watchdog_destroy(wd);
}

/* A failing source keeps the last sample; a limit change moves levels. */
static void test_source_failure_and_limit(void **state)
{
	struct fake f = {0};
	rcl_watchdog_stats st;
	rcl_watchdog *wd;

	f.usage = 700 * MiB;
	wd = make(&f, NULL);
	f.fail = 1;
	assert_int_equal(step(wd, &f, 990 * MiB, 10), RCL_WATCHDOG_NORMAL);
	f.fail = 0;
	f.limit = 800 * MiB;
	f.young_frees = 0;
	rcl_watchdog_refresh(wd);
	rcl_watchdog_stats_get(wd, &st);
	assert_int_equal(st.limit_bytes, 800 * MiB);
	assert_int_equal(st.soft_bytes, 640 * MiB);
	assert_true(rcl_watchdog_level(wd) >= RCL_WATCHDOG_ELEVATED);
	rcl_watchdog_destroy(wd);
}

/* A disabled watchdog does nothing. */
static void test_disabled(void **state)
{
	struct fake f = {0};
	rcl_watchdog_config c;
	rcl_watchdog *wd;

	rcl_watchdog_config_init(&c);
	c.enabled = false;
	f.usage = 990 * MiB;
	wd = make(&f, &c);
	assert_int_equal(rcl_watchdog_check(wd), RCL_WATCHDOG_NORMAL);
	assert_int_equal(f.collects[2], 0);
	rcl_watchdog_destroy(wd);
	rcl_watchdog_destroy(NULL);
}

/* On a real event base with the built-in source, the poll timer runs. */
static void test_event_base(void **state)
{
	struct event_base *base = event_base_new();
	struct timeval tv = {0, 300000};
	rcl_watchdog_config c;
	rcl_watchdog_stats st;
	rcl_watchdog *wd;
	char err[256];

	rcl_watchdog_config_init(&c);
	c.poll_max_ms = 20;
	c.poll_min_ms = 10;
	wd = rcl_watchdog_create(base, &c, NULL, NULL, err, sizeof err);
	assert_non_null(wd);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	rcl_watchdog_stats_get(wd, &st);
	assert_true(st.wakeups[RCL_WATCHDOG_WAKE_POLL] >= 5);
	assert_true(st.limit_bytes > 0);
	assert_string_not_equal(rcl_watchdog_limit_source_name(st.limit_source),
				"unknown");
	rcl_watchdog_destroy(wd);
	event_base_free(base);
}

/* ASan replaces malloc itself: gcc says so with __SANITIZE_ADDRESS__, clang
 * only through __has_feature. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#if !defined(UNDER_ASAN)
/* Count the process's allocations: this binary's malloc family stands in
 * front of libc's (ASan builds have their own, and skip the test). */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static volatile long g_allocs;

void *malloc(size_t n)
{
	g_allocs++;
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	g_allocs++;
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	g_allocs++;
	return __libc_realloc(p, n);
}
#endif

/* The reaction path never allocates: sampling, every level change, forced
 * collections, trims and shedding run with the allocation count still. */
static void test_reaction_no_alloc(void **state)
{
#if defined(UNDER_ASAN)
	print_message("AddressSanitizer owns malloc: counted in the plain "
		      "build\n");
	skip();
#else
	struct fake f = {0};
	rcl_watchdog *wd;
	long before;

	f.usage = 100 * MiB;
	f.full_frees = 0;
	wd = make(&f, NULL);
	step(wd, &f, 200 * MiB, 10); /* warm: first sample */
	before = g_allocs;
	free(malloc(16)); /* the counter counts */
	assert_int_equal(g_allocs, before + 1);
	before = g_allocs;
	assert_int_equal(step(wd, &f, 820 * MiB, 10), RCL_WATCHDOG_ELEVATED);
	assert_int_equal(step(wd, &f, 990 * MiB, 10), RCL_WATCHDOG_SHEDDING);
	assert_int_equal(step(wd, &f, 700 * MiB, 10), RCL_WATCHDOG_NORMAL);
	assert_int_equal(g_allocs, before);
	assert_true(f.collects[0] + f.collects[2] >= 2);
	rcl_watchdog_destroy(wd);
#endif
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_levels_up),
	    cmocka_unit_test(test_hysteresis),
	    cmocka_unit_test(test_elevated_young),
	    cmocka_unit_test(test_elevated_escalates),
	    cmocka_unit_test(test_critical),
	    cmocka_unit_test(test_repeat),
	    cmocka_unit_test(test_cpu_cap),
	    cmocka_unit_test(test_cpu_cap_heap_time),
	    cmocka_unit_test(test_growth),
	    cmocka_unit_test(test_growth_incremental),
	    cmocka_unit_test(test_leak),
	    cmocka_unit_test(test_leak_small),
	    cmocka_unit_test(test_pacing),
	    cmocka_unit_test(test_pacing_from_off),
	    cmocka_unit_test(test_reaction_time),
	    cmocka_unit_test(test_poll_interval),
	    cmocka_unit_test(test_time_in_level),
	    cmocka_unit_test(test_async_collect),
	    cmocka_unit_test(test_async_critical_sheds),
	    cmocka_unit_test(test_source_failure_and_limit),
	    cmocka_unit_test(test_disabled),
	    cmocka_unit_test(test_event_base),
	    cmocka_unit_test(test_reaction_no_alloc),
	};

	return unit_run(argc, argv, tests);
}
