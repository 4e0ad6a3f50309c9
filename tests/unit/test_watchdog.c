/* Unit tests of the memory watchdog, driven by a fake memory source. */
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
static int fake_sample(void *ctx, rcl_watchdog_sample *out, bool refresh)
{
	struct fake *f = ctx;

	if (f->fail)
		return -1;
	out->usage = f->usage;
	out->limit = f->limit;
	out->limit_source = RCL_WATCHDOG_LIMIT_CONFIG;
	out->rss = f->usage;
	return 0;
}

/* The fake clock. */
static uint64_t fake_now(void *ctx)
{
	return ((struct fake *)ctx)->t;
}

/* A collection: frees what the test said and takes collect_cost. */
static int fake_collect(void *arg, int gen, int reason)
{
	struct fake *f = arg;
	uint64_t fr = gen == 0 ? f->young_frees : f->full_frees;

	f->collects[gen]++;
	f->last_reason = reason;
	f->usage = f->usage > fr ? f->usage - fr : 0;
	f->t += f->collect_cost;
	if (gen == RCL_GENERATIONS - 1)
		f->hi.full_collections++;
	return f->pending ? RCL_WATCHDOG_PENDING : 0;
}

/* Trim: counted. */
static size_t fake_trim(void *arg)
{
	((struct fake *)arg)->trims++;
	return 4096;
}

/* Shedding flag. */
static void fake_shed(void *arg, bool on)
{
	struct fake *f = arg;

	f->shed = on;
	f->shed_calls++;
}

/* Pacing: remembered. */
static void fake_pace(void *arg, size_t bytes)
{
	struct fake *f = arg;

	f->paced = bytes;
	f->pace_calls++;
}

/* Heap figures: the test's. */
static bool fake_info(void *arg, rcl_watchdog_heap_info *out)
{
	struct fake *f = arg;

	*out = f->hi;
	return f->have_hi;
}

/* Census: the test's. */
static size_t fake_census(void *arg, rcl_type_stats *out, size_t max)
{
	struct fake *f = arg;

	memcpy(out, f->census, f->ncensus * sizeof *out);
	return f->ncensus;
}

/* Leak events: remembered. */
static void fake_leak(void *arg, const rcl_watchdog_leak *leak)
{
	struct fake *f = arg;

	f->leak = *leak;
	f->leaks++;
}

/* Level changes: remembered. */
static void fake_level(void *arg, int from, int to)
{
	struct fake *f = arg;

	f->from = from;
	f->to = to;
}

/* Collection time throttled, or no longer: counted. */
static void fake_throttle(void *arg, bool on)
{
	struct fake *f = arg;

	if (on)
		f->throttle_on++;
	else
		f->throttle_off++;
}

/* A watchdog on the fake with a 1000 MiB limit, soft 80%, hard 95%, gap 5%. */
static rcl_watchdog *make(struct fake *f, rcl_watchdog_config *cfg)
{
	rcl_watchdog_source src = {fake_sample, fake_now, f};
	rcl_watchdog_hooks hooks = {
	    .collect = fake_collect,
	    .trim = fake_trim,
	    .shed = fake_shed,
	    .pace = fake_pace,
	    .heap_info = fake_info,
	    .census = fake_census,
	    .level = fake_level,
	    .leak = fake_leak,
	    .arg = f,
	};
	rcl_watchdog_config def;
	char err[256];
	rcl_watchdog *wd;

	if (cfg == NULL) {
		rcl_watchdog_config_init(&def);
		cfg = &def;
	}
	if (f->limit == 0)
		f->limit = 1000 * MiB;
	if (f->t == 0)
		f->t = 1000 * MS;
	wd = rcl_watchdog_create(NULL, cfg, &hooks, &src, err, sizeof err);
	assert_non_null(wd);
	rcl_watchdog_set_throttle_hook(wd, fake_throttle);
	return wd;
}

/* Move the clock and usage, then check. */
static int step(rcl_watchdog *wd, struct fake *f, uint64_t usage, uint64_t ms)
{
	f->t += ms * MS;
	f->usage = usage;
	return rcl_watchdog_check(wd);
}

/* Sizes parse with suffixes; percentages and garbage do not. */
static void test_parse_size(void **state)
{
	char err[256];
	uint64_t b;

	assert_int_equal(rcl_watchdog_parse_size("512M", &b, err, sizeof err),
			 0);
	assert_int_equal(b, 512 * MiB);
	assert_int_equal(rcl_watchdog_parse_size("2g", &b, err, sizeof err),
			 0);
	assert_int_equal(b, 2048 * MiB);
	assert_int_equal(rcl_watchdog_parse_size("7B", &b, err, sizeof err),
			 0);
	assert_int_equal(b, 7);
	assert_int_equal(rcl_watchdog_parse_size("64KiB", &b, err, sizeof err),
			 0);
	assert_int_equal(b, 65536);
	assert_int_equal(rcl_watchdog_parse_size("4096", &b, err, sizeof err),
			 0);
	assert_int_equal(b, 4096);
	assert_int_equal(rcl_watchdog_parse_size("auto", &b, err, sizeof err),
			 0);
	assert_int_equal(b, 0);
	assert_int_equal(rcl_watchdog_parse_size("80%", &b, err, sizeof err),
			 -1);
	assert_non_null(strstr(err, "percentage"));
	assert_int_equal(rcl_watchdog_parse_size("12Q", &b, err, sizeof err),
			 -1);
	assert_int_equal(rcl_watchdog_parse_size("", &b, err, sizeof err), -1);
	assert_int_equal(rcl_watchdog_parse_size("-5M", &b, err, sizeof err),
			 -1);
}

/* One strict grammar: what strtod and a lax suffix took before
 * (a fraction, hex, an exponent, a sign, space, decimal-looking units) is
 * an error, and so is a size past 64 bits. */
static void test_parse_size_strict(void **state)
{
	static const char *const bad[] = {
	    "8MB", "0x10",  "1e3", "8 MiB", "1.5G", " 8",    "8 ",
	    "+8",  "8KiBs", "8iB", "inf",   "nan",  "18446744073709551616",
	    "16777216T"};
	char err[256];
	uint64_t b;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		b = 42;
		err[0] = '\0';
		if (rcl_watchdog_parse_size(bad[i], &b, err, sizeof err) == 0)
			fail_msg("\"%s\" parsed as %llu", bad[i],
				 (unsigned long long)b);
		assert_int_equal(b, 42);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(
	    rcl_watchdog_parse_size("18446744073709551615", &b, err, sizeof err),
	    0);
	assert_true(b == UINT64_MAX);
	assert_int_equal(rcl_watchdog_parse_size("16777215T", &b, err,
						 sizeof err),
			 0);
	assert_true(b == 16777215ULL << 40);
}

/* Percentages and fractions parse; over 100% does not. */
static void test_parse_fraction(void **state)
{
	char err[256];
	double v;

	assert_int_equal(
	    rcl_watchdog_parse_fraction("80%", &v, err, sizeof err), 0);
	assert_true(v > 0.799 && v < 0.801);
	assert_int_equal(
	    rcl_watchdog_parse_fraction("0.95", &v, err, sizeof err), 0);
	assert_true(v > 0.949 && v < 0.951);
	assert_int_equal(
	    rcl_watchdog_parse_fraction("101%", &v, err, sizeof err), -1);
	assert_non_null(strstr(err, "100%"));
	assert_int_equal(
	    rcl_watchdog_parse_fraction("512M", &v, err, sizeof err), -1);
	assert_int_equal(
	    rcl_watchdog_parse_fraction("-1%", &v, err, sizeof err), -1);
}

/* The daemon's keys: each bad value a sentence naming the key. */
static void test_config_keys(void **state)
{
	rcl_watchdog_config c;
	char err[256];

	rcl_watchdog_config_init(&c);
	assert_int_equal(rcl_watchdog_config_validate(&c, err, sizeof err), 0);
	assert_int_equal(
	    rcl_watchdog_config_set(&c, "limit", "512M", err, sizeof err), 0);
	assert_int_equal(c.limit_bytes, 512 * MiB);
	assert_int_equal(
	    rcl_watchdog_config_set(&c, "limit", "0", err, sizeof err), -1);
	assert_non_null(strstr(err, "watchdog.limit"));
	assert_int_equal(
	    rcl_watchdog_config_set(&c, "limit", "auto", err, sizeof err), 0);
	assert_int_equal(c.limit_bytes, 0);
	assert_int_equal(
	    rcl_watchdog_config_set(&c, "limit", "80%", err, sizeof err), -1);
	assert_int_equal(
	    rcl_watchdog_config_set(&c, "enabled", "off", err, sizeof err), 0);
	assert_false(c.enabled);
	assert_int_equal(
	    rcl_watchdog_config_set(&c, "enabled", "maybe", err, sizeof err),
	    -1);
	assert_int_equal(
	    rcl_watchdog_config_set(&c, "soft", "150%", err, sizeof err), -1);
	assert_non_null(strstr(err, "watchdog.soft"));
	assert_int_equal(
	    rcl_watchdog_config_set(&c, "bogus", "1", err, sizeof err), -1);
	assert_non_null(strstr(err, "unknown key"));
}

/* A whole configuration: soft above hard, zero levels, bad tuning. */
static void test_config_validate(void **state)
{
	rcl_watchdog_config c;
	rcl_watchdog_source src = {fake_sample, fake_now, NULL};
	char err[256];

	rcl_watchdog_config_init(&c);
	c.soft = 0.96;
	assert_int_equal(rcl_watchdog_config_validate(&c, err, sizeof err), -1);
	assert_non_null(strstr(err, "above watchdog.hard"));
	assert_null(rcl_watchdog_create(NULL, &c, NULL, &src, err, sizeof err));
	rcl_watchdog_config_init(&c);
	c.hard = 0;
	assert_int_equal(rcl_watchdog_config_validate(&c, err, sizeof err), -1);
	rcl_watchdog_config_init(&c);
	c.poll_min_ms = 0;
	assert_int_equal(rcl_watchdog_config_validate(&c, err, sizeof err), -1);
	rcl_watchdog_config_init(&c);
	c.psi_window_us = 20000000;
	assert_int_equal(rcl_watchdog_config_validate(&c, err, sizeof err), -1);
	rcl_watchdog_config_init(&c);
	c.hysteresis = 0.9;
	assert_int_equal(rcl_watchdog_config_validate(&c, err, sizeof err), -1);
}

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

/* Growth: past (1 + ratio) x the survivor floor, a full collection. */
static void test_growth(void **state)
{
	struct fake f = {0};
	rcl_watchdog_stats st;
	rcl_watchdog *wd;

	f.usage = 100 * MiB;
	f.have_hi = true;
	f.hi.survivor_bytes = 20 * MiB;
	f.hi.survivor_objects = 1000;
	f.hi.bytes = 20 * MiB;
	f.hi.objects = 1000;
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

/* A pressure notice at normal: a young collection, once per interval. */
static void test_pressure(void **state)
{
	struct fake f = {0};
	rcl_watchdog_stats st;
	rcl_watchdog *wd;

	f.usage = 100 * MiB;
	wd = make(&f, NULL);
	rcl_watchdog_notify(wd, RCL_WATCHDOG_WAKE_PSI);
	rcl_watchdog_notify(wd, RCL_WATCHDOG_WAKE_SYSTEMD);
	assert_int_equal(f.collects[0], 1);
	assert_int_equal(f.trims, 1);
	f.t += 1100 * MS;
	rcl_watchdog_notify(wd, RCL_WATCHDOG_WAKE_PRESSURE);
	assert_int_equal(f.collects[0], 2);
	/* memory.events changed: the kernel reclaimed at our limit */
	f.t += 1100 * MS;
	rcl_watchdog_notify(wd, RCL_WATCHDOG_WAKE_EVENTS);
	assert_int_equal(f.collects[0], 3);
	/* a poll or a threshold at normal usage is no pressure */
	f.t += 1100 * MS;
	rcl_watchdog_notify(wd, RCL_WATCHDOG_WAKE_POLL);
	rcl_watchdog_notify(wd, RCL_WATCHDOG_WAKE_THRESHOLD);
	assert_int_equal(f.collects[0], 3);
	rcl_watchdog_stats_get(wd, &st);
	assert_int_equal(
	    st.forced[RCL_WATCHDOG_REASON_PRESSURE][RCL_WATCHDOG_NORMAL], 3);
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

/* The built-in source reads this machine: a limit, a usage, an RSS. */
static void test_probe(void **state)
{
	rcl_watchdog_sample s;
	rcl_watchdog_config c;
	char cg[256];

	assert_int_equal(rcl_watchdog_probe(NULL, &s, cg, sizeof cg), 0);
	assert_true(s.limit > 0);
	assert_true(s.usage > 0);
	assert_true(s.rss > 0);
	assert_true(s.limit_source != RCL_WATCHDOG_LIMIT_UNKNOWN);
	rcl_watchdog_config_init(&c);
	c.limit_bytes = 4096;
	assert_int_equal(rcl_watchdog_probe(&c, &s, NULL, 0), 0);
	assert_int_equal(s.limit, 4096);
	assert_int_equal(s.limit_source, RCL_WATCHDOG_LIMIT_CONFIG);
	assert_int_equal(s.usage, s.rss);
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

/* A node of a two-object cycle. */
struct node {
	struct node *other;
};

/* Visit the node's reference. */
static void node_traverse(void *self, rcl_visit_fn visit, void *arg)
{
	struct node *n = self;

	if (n->other != NULL)
		visit(n->other, "other", arg);
}

/* Drop the node's reference. */
static void node_clear(void *self)
{
	struct node *n = self;
	struct node *o = n->other;

	n->other = NULL;
	rcl_decref(o);
}

static const rcl_type node_type = {
    .name = "Node",
    .size = sizeof(struct node),
    .traverse = node_traverse,
    .clear = node_clear,
};

/* The heap hooks collect a real heap's cycles when the fake says critical. */
static void test_heap_hooks(void **state)
{
	rcl_watchdog_source src = {fake_sample, fake_now, NULL};
	rcl_watchdog_heaps hs = {0};
	rcl_watchdog_hooks hooks;
	struct fake f = {0};
	rcl_config hc;
	rcl_heap *h;
	rcl_stats st;
	rcl_watchdog *wd;
	char err[256];
	int i;

	rcl_config_init(&hc);
	hc.auto_collect = false;
	h = rcl_heap_new(&hc);
	assert_non_null(h);
	for (i = 0; i < 100; i++) {
		struct node *a = rcl_new(h, &node_type);
		struct node *b = rcl_new(h, &node_type);

		a->other = b; /* b's reference moves into a */
		rcl_incref(a);
		b->other = a;
		rcl_decref(a);
	}
	rcl_heap_stats(h, &st);
	assert_int_equal(st.objects, 200);
	hs.heaps = &h;
	hs.n = 1;
	rcl_watchdog_hooks_heaps(&hooks, &hs);
	f.limit = 1000 * MiB;
	f.usage = 960 * MiB;
	f.t = 1000 * MS;
	src.ctx = &f;
	wd = rcl_watchdog_create(NULL, NULL, &hooks, &src, err, sizeof err);
	assert_non_null(wd);
	rcl_heap_stats(h, &st);
	assert_int_equal(st.objects, 0);
	rcl_watchdog_destroy(wd);
	rcl_heap_destroy(h);
}

/* Write text into dir/name. */
static void put(const char *dir, const char *name, const char *text)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* mkdir base/rel and return its path in out. */
static void dir(char *out, size_t len, const char *base, const char *rel)
{
	assert_true(strlen(base) + strlen(rel) + 2 <= len);
	strcpy(out, base);
	strcat(out, "/");
	strcat(out, rel);
	assert_true(mkdir(out, 0755) == 0 || errno == EEXIST);
}

/*
 * A cgroup v2 tree in files (this machine's kernel has v1 for memory, so
 * the v2 reading is checked on a copy of its files): the tightest limit up
 * the hierarchy binds, memory.high counts as a limit, usage is the limiting
 * cgroup's memory.current less its inactive_file, oom_kill comes from its
 * memory.events, and a changed limit is seen at the next refresh.
 */
static void test_cgroup_v2_files(void **state)
{
	char base[] = "/tmp/rcl-cg2-XXXXXX", top[512], parent[512], child[512];
	rcl_watchdog_memstat ms;
	rcl_watchdog_config cfg;
	rcl_watchdog_sample s;
	char where[256], err[1100];

	assert_non_null(mkdtemp(base));
	dir(top, sizeof top, base, "top");
	put(top, "memory.stat", "anon 0\n");
	put(top, "memory.current", "0\n");
	dir(parent, sizeof parent, top, "parent");
	dir(child, sizeof child, parent, "child");
	put(parent, "memory.max", "536870912\n");
	put(parent, "memory.high", "max\n");
	put(parent, "memory.current", "419430400\n");
	put(parent, "memory.stat",
	    "anon 1\nfile 2\nkernel 3\nkernel_stack 1\nslab 2\n"
	    "inactive_file 52428800\n");
	put(parent, "memory.events",
	    "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n");
	put(child, "memory.max", "max\n");
	put(child, "memory.high", "max\n");
	put(child, "memory.current", "314572800\n");
	put(child, "memory.stat",
	    "anon 5\nanon_thp 7\nfile 6\nslab 3\nkernel_stack 4\n"
	    "pagetables 1\ninactive_file 104857600\n");
	put(child, "memory.events", "oom_kill 0\n");

	rcl_watchdog_config_init(&cfg);
	assert_int_equal(
	    rcl_watchdog_config_set(&cfg, "cgroup", child, err, sizeof err), 0);
	assert_int_equal(rcl_watchdog_probe(&cfg, &s, where, sizeof where), 0);
	assert_int_equal(s.limit_source, RCL_WATCHDOG_LIMIT_CGROUP_V2);
	assert_int_equal(s.limit, 512 * MiB);
	assert_string_equal(where, parent);
	assert_int_equal(s.raw_usage, 400 * MiB);
	assert_int_equal(s.reclaimable, 50 * MiB);
	assert_int_equal(s.usage, 350 * MiB);
	assert_int_equal(s.oom_kills, 2);
	/* the breakdown is the limiting cgroup's, one key not another's
	 * prefix (anon, not anon_thp) */
	assert_int_equal(rcl_watchdog_memstat_probe(&cfg, &ms), 0);
	assert_int_equal(ms.version, 2);
	assert_string_equal(ms.cgroup, parent);
	assert_int_equal(ms.anon, 1);
	assert_int_equal(ms.file, 2);
	assert_int_equal(ms.kernel, 3);
	assert_int_equal(ms.oom_kills, 2);

	/* memory.high below every max binds, on the child itself */
	put(child, "memory.high", "268435456\n");
	assert_int_equal(rcl_watchdog_probe(&cfg, &s, where, sizeof where), 0);
	assert_int_equal(s.limit, 256 * MiB);
	assert_string_equal(where, child);
	assert_int_equal(s.usage, 200 * MiB);
	assert_int_equal(s.oom_kills, 0);
	/* before Linux 5.18 there is no "kernel": its parts are summed */
	assert_int_equal(rcl_watchdog_memstat_probe(&cfg, &ms), 0);
	assert_string_equal(ms.cgroup, child);
	assert_int_equal(ms.anon, 5);
	assert_int_equal(ms.file, 6);
	assert_int_equal(ms.kernel, 3 + 4 + 1);
	assert_int_equal(ms.oom_kills, 0);

	/* a configured limit tighter than the cgroup's wins */
	assert_int_equal(
	    rcl_watchdog_config_set(&cfg, "limit", "128M", err, sizeof err), 0);
	assert_int_equal(rcl_watchdog_probe(&cfg, &s, NULL, 0), 0);
	assert_int_equal(s.limit, 128 * MiB);
	assert_int_equal(s.limit_source, RCL_WATCHDOG_LIMIT_CONFIG);

	/* bad values are clear errors */
	assert_int_equal(rcl_watchdog_config_set(&cfg, "cgroup", "relative/x",
						 err, sizeof err),
			 -1);
	assert_non_null(strstr(err, "watchdog.cgroup"));
	assert_int_equal(
	    rcl_watchdog_config_set(&cfg, "cgroup", "auto", err, sizeof err),
	    0);
	assert_string_equal(cfg.cgroup, "");
	snprintf(err, sizeof err, "rm -rf %s", base);
	assert_int_equal(system(err), 0);
}

/* The same for a v1 tree: limit_in_bytes, usage_in_bytes less
 * total_inactive_file, oom_control's oom_kill; a parent's limit binds a
 * child with none (v1 writes 2^63 - 4096 for "none"). */
static void test_cgroup_v1_files(void **state)
{
	char base[] = "/tmp/rcl-cg1-XXXXXX", top[512], parent[512], child[512];
	rcl_watchdog_memstat ms;
	rcl_watchdog_config cfg;
	rcl_watchdog_sample s;
	char where[256], err[1100];
	const char *none = "9223372036854771712\n";

	assert_non_null(mkdtemp(base));
	dir(top, sizeof top, base, "memory");
	put(top, "memory.limit_in_bytes", none);
	put(top, "memory.usage_in_bytes", "1000\n");
	dir(parent, sizeof parent, top, "svc");
	dir(child, sizeof child, parent, "worker");
	put(parent, "memory.limit_in_bytes", "268435456\n");
	put(parent, "memory.usage_in_bytes", "209715200\n");
	put(parent, "memory.stat",
	    "cache 1\nrss 2\ntotal_cache 30\ntotal_rss 40\n"
	    "total_rss_huge 4\ntotal_inactive_file 10485760\n");
	put(parent, "memory.kmem.usage_in_bytes", "5000\n");
	put(parent, "memory.oom_control",
	    "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
	put(child, "memory.limit_in_bytes", none);
	put(child, "memory.usage_in_bytes", "104857600\n");
	put(child, "memory.stat", "total_inactive_file 0\n");
	put(child, "memory.oom_control", "oom_kill 0\n");

	rcl_watchdog_config_init(&cfg);
	assert_int_equal(
	    rcl_watchdog_config_set(&cfg, "cgroup", child, err, sizeof err), 0);
	assert_int_equal(rcl_watchdog_probe(&cfg, &s, where, sizeof where), 0);
	assert_int_equal(s.limit_source, RCL_WATCHDOG_LIMIT_CGROUP_V1);
	assert_int_equal(s.limit, 256 * MiB);
	assert_string_equal(where, parent);
	assert_int_equal(s.usage, 190 * MiB);
	assert_int_equal(s.oom_kills, 1);
	/* hierarchical totals (the limit counts the cgroups below), kmem */
	assert_int_equal(rcl_watchdog_memstat_probe(&cfg, &ms), 0);
	assert_int_equal(ms.version, 1);
	assert_string_equal(ms.cgroup, parent);
	assert_int_equal(ms.anon, 40);
	assert_int_equal(ms.file, 30);
	assert_int_equal(ms.kernel, 5000);
	assert_int_equal(ms.oom_kills, 1);
	snprintf(err, sizeof err, "rm -rf %s", base);
	assert_int_equal(system(err), 0);
}

/* smaps_rollup: read on demand; anonymous memory shows what we touch. */
static void test_smaps(void **state)
{
	rcl_watchdog_smaps a, b;
	size_t n = 64 * MiB;
	char *p;

	if (rcl_watchdog_smaps_read(&a) != 0) {
		print_message("no /proc/self/smaps_rollup (Linux < 4.14)\n");
		skip();
	}
	assert_true(a.rss > 0);
	assert_true(a.pss > 0 && a.pss <= a.rss);
	p = malloc(n);
	assert_non_null(p);
	memset(p, 1, n);
	assert_int_equal(rcl_watchdog_smaps_read(&b), 0);
	assert_true(b.anon >= a.anon + 60 * MiB);
	assert_true(b.rss >= a.rss + 60 * MiB);
	free(p);
}

typedef struct plain {
	long x;
} plain;

static void plain_traverse(void *self, rcl_visit_fn visit, void *arg)
{
}

static const rcl_type plain_type = {
    .name = "plain",
    .size = sizeof(plain),
    .traverse = plain_traverse,
};

/* The heaps' census hook answers the survivors of the last full
 * collection, not what lives when the watchdog asks. */
static void test_heaps_census_at_full(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	rcl_watchdog_heaps hs = {.heaps = &h, .n = 1};
	rcl_watchdog_hooks hooks;
	rcl_type_stats out[8];
	void *keep[30];
	size_t n;

	rcl_watchdog_hooks_heaps(&hooks, &hs);
	for (int i = 0; i < 10; i++)
		keep[i] = rcl_new(h, &plain_type);
	n = hooks.census(hooks.arg, out, 8); /* before any: live */
	assert_int_equal(n, 1);
	assert_int_equal(out[0].objects, 10);
	rcl_collect(h, 2);
	for (int i = 10; i < 30; i++)
		keep[i] = rcl_new(h, &plain_type);
	n = hooks.census(hooks.arg, out, 8);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].name, "plain");
	assert_int_equal(out[0].objects, 10); /* the floor, not 30 */
	rcl_collect(h, 0);
	assert_int_equal(hooks.census(hooks.arg, out, 8), 1);
	assert_int_equal(out[0].objects, 10); /* young ones don't count */
	rcl_collect(h, 2);
	hooks.census(hooks.arg, out, 8);
	assert_int_equal(out[0].objects, 30);
	for (int i = 0; i < 30; i++)
		rcl_decref(keep[i]);
	rcl_heap_destroy(h);
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

/* systemd's memory pressure protocol through a FIFO (PRESSURE.md allows
 * one): a write to it wakes the watchdog on its event base, which answers
 * at the normal level with a young collection and a trim. */
static void test_systemd_pressure_fifo(void **state)
{
	char dirpath[] = "/tmp/rcl-psi-XXXXXX", fifo[64];
	struct event_base *base = event_base_new();
	struct timeval tv = {0, 200000};
	rcl_heap *h = rcl_heap_new(NULL);
	rcl_watchdog_heaps hs = {.heaps = &h, .n = 1};
	rcl_watchdog_hooks hooks;
	rcl_watchdog_config c;
	rcl_watchdog_stats st;
	rcl_stats hst;
	rcl_watchdog *wd;
	char err[256];
	int wfd;

	assert_non_null(mkdtemp(dirpath));
	snprintf(fifo, sizeof fifo, "%s/pressure", dirpath);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	setenv("MEMORY_PRESSURE_WATCH", fifo, 1);
	unsetenv("MEMORY_PRESSURE_WRITE");
	rcl_watchdog_hooks_heaps(&hooks, &hs);
	rcl_watchdog_config_init(&c);
	wd = rcl_watchdog_create(base, &c, &hooks, NULL, err, sizeof err);
	assert_non_null(wd);
	wfd = open(fifo, O_WRONLY | O_NONBLOCK);
	assert_true(wfd >= 0);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	rcl_watchdog_stats_get(wd, &st);
	assert_int_equal(st.wakeups[RCL_WATCHDOG_WAKE_SYSTEMD], 0);
	assert_int_equal(write(wfd, "pressure\n", 9), 9);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	rcl_watchdog_stats_get(wd, &st);
	assert_true(st.wakeups[RCL_WATCHDOG_WAKE_SYSTEMD] >= 1);
	assert_true(st.wakeups[RCL_WATCHDOG_WAKE_SYSTEMD] <= 3);
	rcl_heap_stats(h, &hst);
	assert_true(hst.gen[0].collections >= 1);
	/* the writer going away is no storm of wake-ups */
	close(wfd);
	uint64_t seen = st.wakeups[RCL_WATCHDOG_WAKE_SYSTEMD];
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	rcl_watchdog_stats_get(wd, &st);
	assert_true(st.wakeups[RCL_WATCHDOG_WAKE_SYSTEMD] <= seen + 2);
	rcl_watchdog_destroy(wd);
	unsetenv("MEMORY_PRESSURE_WATCH");
	rcl_heap_destroy(h);
	event_base_free(base);
	unlink(fifo);
	rmdir(dirpath);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_size),
	    cmocka_unit_test(test_parse_size_strict),
	    cmocka_unit_test(test_parse_fraction),
	    cmocka_unit_test(test_config_keys),
	    cmocka_unit_test(test_config_validate),
	    cmocka_unit_test(test_levels_up),
	    cmocka_unit_test(test_hysteresis),
	    cmocka_unit_test(test_elevated_young),
	    cmocka_unit_test(test_elevated_escalates),
	    cmocka_unit_test(test_critical),
	    cmocka_unit_test(test_repeat),
	    cmocka_unit_test(test_cpu_cap),
	    cmocka_unit_test(test_cpu_cap_heap_time),
	    cmocka_unit_test(test_growth),
	    cmocka_unit_test(test_leak),
	    cmocka_unit_test(test_leak_small),
	    cmocka_unit_test(test_pacing),
	    cmocka_unit_test(test_pacing_from_off),
	    cmocka_unit_test(test_reaction_time),
	    cmocka_unit_test(test_pressure),
	    cmocka_unit_test(test_poll_interval),
	    cmocka_unit_test(test_time_in_level),
	    cmocka_unit_test(test_async_collect),
	    cmocka_unit_test(test_async_critical_sheds),
	    cmocka_unit_test(test_source_failure_and_limit),
	    cmocka_unit_test(test_disabled),
	    cmocka_unit_test(test_probe),
	    cmocka_unit_test(test_event_base),
	    cmocka_unit_test(test_heap_hooks),
	    cmocka_unit_test(test_cgroup_v2_files),
	    cmocka_unit_test(test_cgroup_v1_files),
	    cmocka_unit_test(test_smaps),
	    cmocka_unit_test(test_heaps_census_at_full),
	    cmocka_unit_test(test_reaction_no_alloc),
	    cmocka_unit_test(test_systemd_pressure_fifo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
