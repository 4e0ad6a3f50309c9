/* The watchdog tests' fake world; see watchdog_fake.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "watchdog_fake.h"

/* The fake source's sample(). */
int fake_sample(void *ctx, rcl_watchdog_sample *out, bool refresh)
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
uint64_t fake_now(void *ctx)
{
	return ((struct fake *)ctx)->t;
}

/* A collection: frees what the test said and takes collect_cost. */
int fake_collect(void *arg, int gen, int reason)
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
size_t fake_trim(void *arg)
{
	((struct fake *)arg)->trims++;
	return 4096;
}

/* Shedding flag. */
void fake_shed(void *arg, bool on)
{
	struct fake *f = arg;

	f->shed = on;
	f->shed_calls++;
}

/* Pacing: remembered. */
void fake_pace(void *arg, size_t bytes)
{
	struct fake *f = arg;

	f->paced = bytes;
	f->pace_calls++;
}

/* Heap figures: the test's. */
bool fake_info(void *arg, rcl_watchdog_heap_info *out)
{
	struct fake *f = arg;

	*out = f->hi;
	return f->have_hi;
}

/* Census: the test's. */
size_t fake_census(void *arg, rcl_type_stats *out, size_t max)
{
	struct fake *f = arg;

	memcpy(out, f->census, f->ncensus * sizeof *out);
	return f->ncensus;
}

/* Leak events: remembered. */
void fake_leak(void *arg, const rcl_watchdog_leak *leak)
{
	struct fake *f = arg;

	f->leak = *leak;
	f->leaks++;
}

/* Level changes: remembered. */
void fake_level(void *arg, int from, int to)
{
	struct fake *f = arg;

	f->from = from;
	f->to = to;
}

/* Collection time throttled, or no longer: counted. */
void fake_throttle(void *arg, bool on)
{
	struct fake *f = arg;

	if (on)
		f->throttle_on++;
	else
		f->throttle_off++;
}

/* A watchdog on the fake with a 1000 MiB limit, soft 80%, hard 95%, gap 5%. */
rcl_watchdog *make(struct fake *f, rcl_watchdog_config *cfg)
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
int step(rcl_watchdog *wd, struct fake *f, uint64_t usage, uint64_t ms)
{
	f->t += ms * MS;
	f->usage = usage;
	return rcl_watchdog_check(wd);
}
