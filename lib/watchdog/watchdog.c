/*
 * The watchdog's core: levels with hysteresis, the actions each level takes,
 * pacing against the limit, the GC CPU cap, the growth and leak rules, and
 * telemetry. Memory comes from a source (procfs.c or a test's fake), wake-ups
 * from notify.c and the poll timer. Nothing here allocates after create.
 *
 * A reaction, in order: sample; note new full collections (growth and leak
 * rules); classify the level; if the level's action is due, force it (young
 * collection and trim at elevated, escalating to a full collection if usage
 * stays over soft; full collection and trim at critical, then shedding if
 * usage is still over hard); pace; schedule the next poll.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../gauge.h"
#include "watchdog-internal.h"

const uint64_t rcl_watchdog_reaction_bounds_ns[RCL_WATCHDOG_REACTION_BUCKETS] =
    {
	100000,	   250000,    500000,	  1000000,    2500000,
	5000000,   10000000,  25000000,	  50000000,   100000000,
	250000000, 500000000, 1000000000, UINT64_MAX,
};

static const char *const level_names[] = {"normal", "elevated", "critical",
					  "shedding"};
static const char *const source_names[] = {"unknown", "cgroup-v2", "cgroup-v1",
					   "config", "physical"};
static const char *const reason_names[] = {"level", "pressure", "growth",
					   "manual", "admission"};
static const char *const wakeup_names[] = {
    "poll",	     "threshold", "pressure-level", "psi",
    "memory-events", "systemd",	  "manual",	    "admission"};

/* Name a level. */
const char *rcl_watchdog_level_name(int level)
{
	if (level < 0 || level >= RCL_WATCHDOG_LEVELS)
		return "unknown";
	return level_names[level];
}

/* Name a limit source. */
const char *rcl_watchdog_limit_source_name(int source)
{
	if (source < 0 || source >= RCL_WATCHDOG_LIMIT_SOURCES)
		return "unknown";
	return source_names[source];
}

/* Name a reason. */
const char *rcl_watchdog_reason_name(int reason)
{
	if (reason < 0 || reason >= RCL_WATCHDOG_REASONS)
		return "unknown";
	return reason_names[reason];
}

/* Name a wake-up. */
const char *rcl_watchdog_wakeup_name(int wakeup)
{
	if (wakeup < 0 || wakeup >= RCL_WATCHDOG_WAKEUPS)
		return "unknown";
	return wakeup_names[wakeup];
}

/* The watchdog's clock: the source's, else CLOCK_MONOTONIC. */
static uint64_t now(const rcl_watchdog *wd)
{
	if (wd->src.now_ns != NULL)
		return wd->src.now_ns(wd->src.ctx);
	return wd_now_ns();
}

/* Tell the attached heaps the levels and pacing in force: none (admit
 * everything) while the watchdog is off or knows no limit. */
static void gauge_levels(rcl_watchdog *wd)
{
	bool on = wd->cfg.enabled && wd->s.limit != 0;

	atomic_store(&wd->gauge->pace_divisor, wd->cfg.pace_divisor);
	atomic_store(&wd->gauge->pace_min, wd->cfg.pace_min_bytes);
	atomic_store(&wd->gauge->soft, on ? wd->soft : 0);
	atomic_store(&wd->gauge->hard, on ? wd->hard : 0);
}

/* Recompute the thresholds in bytes from the limit; none if it is unknown. */
static void set_thresholds(rcl_watchdog *wd)
{
	double limit = (double)wd->s.limit;

	if (wd->s.limit == 0) {
		wd->soft = wd->hard = UINT64_MAX;
		wd->hyst = 0;
	} else {
		wd->soft = (uint64_t)(limit * wd->cfg.soft);
		wd->hard = (uint64_t)(limit * wd->cfg.hard);
		wd->hyst = (uint64_t)(limit * wd->cfg.hysteresis);
	}
	gauge_levels(wd);
}

/* Sample the source under the gauge's lock (heaps read through the same
 * source from their threads), and give the heaps the reading. */
static int sample_source(rcl_watchdog *wd, rcl_watchdog_sample *s,
			 bool refresh)
{
	struct gauge_mark m;
	int rc;

	pthread_mutex_lock(&wd->gauge->lock);
	gauge_mark(wd->gauge, &m);
	rc = wd->src.sample(wd->src.ctx, s, refresh);
	if (rc == 0)
		gauge_set_reading(wd->gauge, &m, s->usage);
	pthread_mutex_unlock(&wd->gauge->lock);
	return rc;
}

/* Read the source; re-read the limit when it is due. False if it failed. */
static bool take_sample(rcl_watchdog *wd, uint64_t t)
{
	uint64_t period = (uint64_t)wd->cfg.limit_refresh_ms * 1000000;
	bool refresh = !wd->have_sample || t - wd->last_refresh >= period;
	uint64_t old_limit = wd->s.limit;
	rcl_watchdog_sample s;

	memset(&s, 0, sizeof s);
	if (sample_source(wd, &s, refresh) != 0)
		return wd->have_sample;
	if (refresh)
		wd->last_refresh = t;
	wd->s = s;
	wd->have_sample = true;
	wd->st.samples++;
	if (s.limit != old_limit) {
		set_thresholds(wd);
		if (old_limit != 0)
			wd_notify_rearm(wd);
	}
	return true;
}

/* The CPU cap refuses forced collections (on) or no longer does: the
 * throttle hook, once per change. */
static void set_capped(rcl_watchdog *wd, bool on)
{
	if (wd->capped == on)
		return;
	wd->capped = on;
	if (wd->throttle != NULL)
		wd->throttle(wd->hooks.arg, on);
}

/* Account time spent in the old level and move to a new one. */
static void set_level(rcl_watchdog *wd, int to, uint64_t t)
{
	int from = wd->level;

	if (to == from)
		return;
	wd->st.time_in_level_ns[from] += t - wd->level_since;
	wd->level_since = t;
	wd->level = to;
	wd->st.level_changes++;
	wd->st.entered_level[to]++;
	if (to == RCL_WATCHDOG_NORMAL)
		set_capped(wd, false); /* nothing left to force */
	if (to == RCL_WATCHDOG_SHEDDING) {
		wd->st.shed_total++;
		wd->st.shedding = true;
		if (wd->hooks.shed != NULL)
			wd->hooks.shed(wd->hooks.arg, true);
	} else if (from == RCL_WATCHDOG_SHEDDING) {
		wd->st.shedding = false;
		if (wd->hooks.shed != NULL)
			wd->hooks.shed(wd->hooks.arg, false);
	}
	if (wd->hooks.level != NULL)
		wd->hooks.level(wd->hooks.arg, from, to);
}

/*
 * The level usage calls for, given the current one. A level is entered at its
 * threshold and left only a hysteresis gap below it; shedding is entered only
 * by a reaction (see react()) and kept while usage stays over hard - gap, or
 * over soft - gap while the CPU cap is exhausted.
 */
static int classify(const rcl_watchdog *wd)
{
	uint64_t u = wd->s.usage;
	int l = wd->level;
	uint64_t hard_out = wd->hard - wd->hyst;
	uint64_t soft_out = wd->soft - wd->hyst;

	if (u >= wd->hard)
		return l == RCL_WATCHDOG_SHEDDING ? l : RCL_WATCHDOG_CRITICAL;
	if (l >= RCL_WATCHDOG_CRITICAL && u >= hard_out)
		return l;
	if (l == RCL_WATCHDOG_SHEDDING && wd->st.throttled && u >= soft_out)
		return l;
	if (u >= wd->soft)
		return RCL_WATCHDOG_ELEVATED;
	if (l >= RCL_WATCHDOG_ELEVATED && u >= soft_out)
		return RCL_WATCHDOG_ELEVATED;
	return RCL_WATCHDOG_NORMAL;
}

/* Move the CPU window's slots forward to t, zeroing the ones skipped. */
static void cpu_advance(rcl_watchdog *wd, uint64_t t)
{
	uint64_t slot = (uint64_t)wd->cfg.gc_window_ms * 1000000 / WD_CPU_SLOTS;
	unsigned i;

	if (slot == 0)
		slot = 1;
	for (i = 0; i < WD_CPU_SLOTS && t - wd->cpu_slot_start >= slot; i++) {
		wd->cpu_cur = (wd->cpu_cur + 1) % WD_CPU_SLOTS;
		wd->cpu_slot[wd->cpu_cur] = 0;
		wd->cpu_slot_start += slot;
	}
	if (t - wd->cpu_slot_start >= slot)
		wd->cpu_slot_start = t;
}

/* Add collection time to the current slot of the CPU window. */
static void cpu_add(rcl_watchdog *wd, uint64_t ns)
{
	wd->cpu_slot[wd->cpu_cur] += ns;
}

/* The fraction of the window (times workers) spent collecting. */
static double cpu_fraction(rcl_watchdog *wd, uint64_t t)
{
	uint64_t sum = 0;
	double window;
	unsigned i;

	cpu_advance(wd, t);
	for (i = 0; i < WD_CPU_SLOTS; i++)
		sum += wd->cpu_slot[i];
	window = (double)wd->cfg.gc_window_ms * 1e6 * (double)wd->cfg.workers;
	wd->st.gc_cpu_fraction = window > 0 ? (double)sum / window : 0;
	wd->st.throttled = wd->st.gc_cpu_fraction >= wd->cfg.gc_cpu_cap;
	return wd->st.gc_cpu_fraction;
}

/* Record one reaction time in the histogram. */
static void record_reaction(rcl_watchdog *wd, uint64_t ns)
{
	int i;

	for (i = 0; i < RCL_WATCHDOG_REACTION_BUCKETS - 1; i++) {
		if (ns <= rcl_watchdog_reaction_bounds_ns[i])
			break;
	}
	wd->st.reaction_hist[i]++;
	wd->st.reactions++;
	wd->st.reaction_last_ns = ns;
	wd->st.reaction_total_ns += ns;
	if (ns > wd->st.reaction_max_ns)
		wd->st.reaction_max_ns = ns;
}

/* Give memory back to the system through the host's trim hook. */
static void trim(rcl_watchdog *wd)
{
	if (wd->hooks.trim == NULL)
		return;
	wd->st.trims++;
	wd->st.trim_bytes += wd->hooks.trim(wd->hooks.arg);
}

/* What collect() did. */
enum { DONE, PENDING, CAPPED, NONE };

/*
 * Run one forced collection unless the CPU cap forbids it (CAPPED), there is
 * no collect hook or an asynchronous one is still running (NONE), or the host
 * finishes it later (PENDING).
 */
static int collect(rcl_watchdog *wd, int gen, int reason, uint64_t t0)
{
	uint64_t start, end;

	if (wd->hooks.collect == NULL || wd->pending)
		return NONE;
	start = now(wd);
	if (cpu_fraction(wd, start) >= wd->cfg.gc_cpu_cap) {
		wd->st.throttle_events++;
		set_capped(wd, true);
		return CAPPED;
	}
	set_capped(wd, false);
	wd->st.forced_total++;
	wd->st.forced[reason][wd->level]++;
	if (gen == 0)
		wd->st.forced_young++;
	else
		wd->st.forced_full++;
	if (wd->hooks.collect(wd->hooks.arg, gen, reason) ==
	    RCL_WATCHDOG_PENDING) {
		wd->pending = true;
		wd->pending_t0 = t0;
		wd->pending_reason = reason;
		return PENDING;
	}
	end = now(wd);
	if (!wd->have_gc_ns)
		cpu_add(wd, end - start);
	if (t0 != 0)
		record_reaction(wd, end - t0);
	return DONE;
}

/* Whether a forced collection for reason is followed by a trim: all but
 * the growth rule's at the normal level, where memory is not short and
 * giving it back would only have malloc take it again (a sawtooth in RSS
 * for nothing). */
bool wd_trims_after(const rcl_watchdog *wd, int reason)
{
	return reason != RCL_WATCHDOG_REASON_GROWTH ||
	       wd->level >= RCL_WATCHDOG_ELEVATED;
}

/* Whether the current level's action is due again. */
static bool action_due(const rcl_watchdog *wd, uint64_t t)
{
	uint64_t step = wd->s.limit / 32;
	uint64_t repeat = (uint64_t)wd->cfg.repeat_ms * 1000000;

	if (wd->pending)
		return false;
	if (wd->level > wd->action_level)
		return true;
	if (wd->s.usage >= wd->action_usage + step)
		return true;
	return t - wd->action_ns >= repeat;
}

/* Remember what the last action saw, for action_due(). */
static void acted(rcl_watchdog *wd)
{
	wd->action_ns = now(wd);
	wd->action_usage = wd->s.usage;
	wd->action_level = wd->level;
}

/* Elevated: a young collection and a trim. True when that was enough (or
 * the reaction must stop here); false to go on to a full collection. */
static bool react_young(rcl_watchdog *wd, uint64_t t0)
{
	int rc = collect(wd, 0, RCL_WATCHDOG_REASON_LEVEL, t0);

	if (rc == NONE && !wd->pending)
		return false;
	if (rc == CAPPED)
		set_level(wd, RCL_WATCHDOG_SHEDDING, now(wd));
	if (rc != DONE)
		return true;
	trim(wd);
	take_sample(wd, now(wd));
	if (wd->s.usage >= wd->soft)
		return false;
	set_level(wd, classify(wd), now(wd));
	return true;
}

/*
 * Elevated: a young collection and a trim, then a full collection if usage
 * stays over soft. Critical or shedding: a full collection and a trim, then
 * shedding if usage stays over hard. Collections the CPU cap refuses turn
 * into shedding. The reaction time runs from t0 to the end of the last
 * collection.
 */
static void react(rcl_watchdog *wd, uint64_t t0)
{
	uint64_t t;
	int rc;

	if (wd->level == RCL_WATCHDOG_ELEVATED && react_young(wd, t0))
		goto out;
	rc = collect(wd, RCL_GENERATIONS - 1, RCL_WATCHDOG_REASON_LEVEL, t0);
	if (rc == CAPPED)
		set_level(wd, RCL_WATCHDOG_SHEDDING, now(wd));
	if (rc == CAPPED || rc == PENDING || (rc == NONE && wd->pending))
		goto out;
	trim(wd);
	t = now(wd);
	take_sample(wd, t);
	if (wd->s.usage >= wd->hard)
		set_level(wd, RCL_WATCHDOG_SHEDDING, t);
	else
		set_level(wd, classify(wd), t);
out:
	acted(wd);
}

/* A pressure notice at normal: a young collection and a trim, as systemd's
 * PRESSURE.md asks, at most once per repeat interval. */
static void pressure(rcl_watchdog *wd, uint64_t t0)
{
	uint64_t t = now(wd);

	if (wd->pressure_ns != 0 &&
	    t - wd->pressure_ns < (uint64_t)wd->cfg.repeat_ms * 1000000)
		return;
	wd->pressure_ns = t;
	if (collect(wd, 0, RCL_WATCHDOG_REASON_PRESSURE, t0) == DONE)
		trim(wd);
}

/* A collection for a refusal at most this often (the cap on collection
 * time applies too). */
#define ADMISSION_REPEAT_NS ((uint64_t)50000000)

/*
 * A heap refused memory below the critical level: the garbage that would
 * have made room may be on other heaps (the refusing one collected its own
 * first), which only we can reach. A full collection everywhere and a trim.
 */
static void admission(rcl_watchdog *wd, uint64_t t0)
{
	uint64_t t = now(wd);

	if (wd->admission_ns != 0 && t - wd->admission_ns < ADMISSION_REPEAT_NS)
		return;
	wd->admission_ns = t;
	if (collect(wd, RCL_GENERATIONS - 1, RCL_WATCHDOG_REASON_ADMISSION,
		    t0) == DONE)
		trim(wd);
}

/* Remember a census of the heap for the leak run's slot i. */
static void take_census(rcl_watchdog *wd, uint32_t i)
{
	size_t n = 0;

	if (wd->hooks.census != NULL)
		n = wd->hooks.census(wd->hooks.arg, wd->run.census[i],
				     RCL_WATCHDOG_CENSUS_MAX);
	wd->run.ntypes[i] =
	    n < RCL_WATCHDOG_CENSUS_MAX ? n : RCL_WATCHDOG_CENSUS_MAX;
}

/* Survivors of type ty in census slot i; false if absent. */
static bool census_count(const struct wd_leak_run *r, uint32_t i,
			 const rcl_type_stats *ty, size_t *count)
{
	size_t k;

	for (k = 0; k < r->ntypes[i]; k++) {
		const rcl_type_stats *c = &r->census[i][k];

		if ((ty->type != NULL && c->type == ty->type) ||
		    (ty->type == NULL && c->name != NULL && ty->name != NULL &&
		     strcmp(c->name, ty->name) == 0)) {
			*count = c->objects;
			return true;
		}
	}
	return false;
}

/* Whether ty's survivors rose at every step of the run. */
static bool type_rose(const struct wd_leak_run *r, const rcl_type_stats *ty)
{
	size_t prev = 0, cur;
	uint32_t i;

	for (i = 0; i < r->n; i++) {
		if (!census_count(r, i, ty, &cur))
			cur = 0;
		if (i > 0 && cur <= prev)
			return false;
		prev = cur;
	}
	return true;
}

/* Build and raise the "leak suspected" event from the run. */
static void raise_leak(rcl_watchdog *wd)
{
	struct wd_leak_run *r = &wd->run;
	rcl_watchdog_leak *lk = &wd->leak;
	uint32_t last = r->n - 1;
	size_t k, first;

	memset(lk, 0, sizeof *lk);
	lk->collections = r->n - 1;
	lk->floor_first_bytes = r->floor[0];
	lk->floor_last_bytes = r->floor[last];
	for (k = 0; k < r->ntypes[last]; k++) {
		const rcl_type_stats *ty = &r->census[last][k];

		if (lk->ntypes == RCL_WATCHDOG_LEAK_TYPES || !type_rose(r, ty))
			continue;
		if (!census_count(r, 0, ty, &first))
			first = 0;
		lk->types[lk->ntypes].name = ty->name;
		lk->types[lk->ntypes].first = first;
		lk->types[lk->ntypes].last = ty->objects;
		lk->ntypes++;
	}
	wd->st.leak_suspected++;
	if (wd->hooks.leak != NULL)
		wd->hooks.leak(wd->hooks.arg, lk);
}

/* A full collection left floor bytes: extend or restart the rising run, and
 * raise the leak event after leak_collections rises. */
static void note_floor(rcl_watchdog *wd, size_t floor)
{
	struct wd_leak_run *r = &wd->run;
	uint32_t k = wd->cfg.leak_collections;

	if (k == 0)
		return;
	if (r->n == 0 || floor <= r->floor[r->n - 1] || r->n > k)
		r->n = 0;
	r->floor[r->n] = floor;
	take_census(wd, r->n);
	r->n++;
	if (r->n == k + 1 && floor - r->floor[0] >= wd->cfg.leak_min_bytes) {
		raise_leak(wd);
		/* Start the next run from here, with this census. */
		memcpy(r->census[0], r->census[r->n - 1], sizeof r->census[0]);
		r->ntypes[0] = r->ntypes[r->n - 1];
		r->floor[0] = floor;
		r->n = 1;
	}
}

/* Read the heap figures: time in collections, new full collections. */
static void observe_heap(rcl_watchdog *wd)
{
	rcl_watchdog_heap_info hi;

	if (wd->hooks.heap_info == NULL)
		return;
	memset(&hi, 0, sizeof hi);
	if (!wd->hooks.heap_info(wd->hooks.arg, &hi))
		return;
	if (wd->have_gc_ns && hi.gc_ns >= wd->gc_ns_seen)
		cpu_add(wd, hi.gc_ns - wd->gc_ns_seen);
	wd->gc_ns_seen = hi.gc_ns;
	wd->have_gc_ns = true;
	if (!wd->have_hi || hi.full_collections != wd->full_seen) {
		wd->floor_bytes = hi.survivor_bytes;
		wd->floor_objects = hi.survivor_objects;
		wd->st.survivor_floor_bytes = hi.survivor_bytes;
		if (wd->have_hi)
			note_floor(wd, hi.survivor_bytes);
		wd->full_seen = hi.full_collections;
	}
	wd->hi = hi;
	wd->have_hi = true;
}

/* Whether the heap grew past the growth ratio since the last full one. */
static bool grown(const rcl_watchdog *wd)
{
	double r = 1.0 + wd->cfg.growth_ratio;
	const rcl_watchdog_heap_info *hi = &wd->hi;

	if (!wd->have_hi || wd->cfg.growth_ratio <= 0)
		return false;
	if ((double)hi->bytes > r * (double)wd->floor_bytes &&
	    hi->bytes - wd->floor_bytes >= wd->cfg.growth_min_bytes)
		return true;
	return (double)hi->objects > r * (double)wd->floor_objects &&
	       hi->objects - wd->floor_objects >= wd->cfg.growth_min_objects;
}

/* The growth rule: a full collection, at most once per repeat interval;
 * none on incremental heaps, whose passes find old garbage within the
 * bytes a full collection waits for, without its pause (memory is not
 * short at the normal level; the levels still force whole ones). */
static void growth(rcl_watchdog *wd)
{
	uint64_t t = now(wd);

	if (!grown(wd) || wd->hi.incremental)
		return;
	if (wd->growth_ns != 0 &&
	    t - wd->growth_ns < (uint64_t)wd->cfg.repeat_ms * 1000000)
		return;
	wd->growth_ns = t;
	if (collect(wd, RCL_GENERATIONS - 1, RCL_WATCHDOG_REASON_GROWTH, 0) ==
	    DONE)
		observe_heap(wd);
}

/*
 * Pacing against the limit, as Go's soft limit: from pace_start up, the young
 * byte trigger is the headroom to hard shared by the workers and divided by
 * pace_divisor, so garbage is collected before it can fill the headroom.
 */
static size_t pace_target(const rcl_watchdog *wd)
{
	size_t base = wd->cfg.young_bytes;
	uint64_t start = (uint64_t)((double)wd->s.limit * wd->cfg.pace_start);
	uint64_t head;
	size_t t;

	if (wd->s.limit == 0 || wd->s.usage < start)
		return base;
	head = wd->hard > wd->s.usage ? wd->hard - wd->s.usage : 0;
	head /= (uint64_t)wd->cfg.pace_divisor * wd->cfg.workers;
	t = head > SIZE_MAX ? SIZE_MAX : (size_t)head;
	if (t < wd->cfg.pace_min_bytes)
		t = wd->cfg.pace_min_bytes;
	if (base != 0 && t > base)
		t = base;
	return t;
}

/* Apply the pacing target when it moved by more than an eighth. */
static void pace(rcl_watchdog *wd)
{
	size_t want = pace_target(wd), cur = wd->young_applied;
	size_t diff = want > cur ? want - cur : cur - want;

	if (wd->hooks.pace == NULL || want == cur)
		return;
	if (want != wd->cfg.young_bytes && cur != 0 && diff <= cur / 8)
		return;
	wd->young_applied = want;
	wd->st.young_bytes = want;
	wd->st.pace_changes++;
	wd->hooks.pace(wd->hooks.arg, want);
}

/* The poll interval: the time to reach the next threshold at the
 * worst-case fill rate (earlyoom's idea), within [poll_min, poll_max]. */
static uint32_t poll_interval(const rcl_watchdog *wd)
{
	uint64_t next = wd->level == RCL_WATCHDOG_NORMAL ? wd->soft : wd->hard;
	uint64_t dist, ms;

	if (wd->level >= RCL_WATCHDOG_CRITICAL || wd->s.usage >= next)
		return wd->cfg.poll_min_ms;
	if (wd->level == RCL_WATCHDOG_NORMAL && wd->notify.nthresh > 0)
		return wd->cfg.poll_max_ms;
	dist = next - wd->s.usage;
	ms = wd->cfg.fill_rate ? dist / (wd->cfg.fill_rate / 1000 + 1)
			       : wd->cfg.poll_max_ms;
	if (ms < wd->cfg.poll_min_ms)
		return wd->cfg.poll_min_ms;
	return ms > wd->cfg.poll_max_ms ? wd->cfg.poll_max_ms : (uint32_t)ms;
}

/* Arm the poll timer for the next sample. */
static void schedule_poll(rcl_watchdog *wd)
{
	uint32_t ms = poll_interval(wd);
	struct timeval tv = {.tv_sec = ms / 1000,
			     .tv_usec = (suseconds_t)(ms % 1000) * 1000};

	wd->st.poll_interval_ms = ms;
	if (wd->poll_ev != NULL)
		evtimer_add(wd->poll_ev, &tv);
}

/*
 * Sample and act: the one path every wake-up takes. t0 is when the wake-up
 * arrived (0: not timed). Wake-ups during a reaction (a hook ran the event
 * loop) are only counted. A change of memory.events is pressure like PSI's:
 * the kernel reclaimed at memory.high or memory.max (or went further), so
 * even where usage less the inactive file cache reads normal, the cgroup is
 * at its limit and garbage of ours is cheaper to give back than its cache.
 */
void wd_wakeup(rcl_watchdog *wd, int wakeup, uint64_t t0)
{
	uint64_t t = now(wd);
	bool pressed = wakeup == RCL_WATCHDOG_WAKE_PRESSURE ||
		       wakeup == RCL_WATCHDOG_WAKE_PSI ||
		       wakeup == RCL_WATCHDOG_WAKE_SYSTEMD ||
		       wakeup == RCL_WATCHDOG_WAKE_EVENTS;

	wd->st.wakeups[wakeup]++;
	if (wd->acting || !wd->cfg.enabled)
		return;
	wd->acting = true;
	if (take_sample(wd, t)) {
		wd_notify_track(wd);
		observe_heap(wd);
		cpu_fraction(wd, t);
		set_level(wd, classify(wd), t);
		if (wd->level >= RCL_WATCHDOG_ELEVATED && action_due(wd, t))
			react(wd, t0 ? t0 : t);
		else if (wakeup == RCL_WATCHDOG_WAKE_ADMISSION &&
			 wd->level < RCL_WATCHDOG_CRITICAL)
			admission(wd, t0 ? t0 : t);
		else if (pressed && wd->level == RCL_WATCHDOG_NORMAL)
			pressure(wd, t0 ? t0 : t);
		growth(wd);
		pace(wd);
	}
	schedule_poll(wd);
	wd->acting = false;
}

/* The poll timer fired. */
static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	rcl_watchdog *wd = arg;

	wd_wakeup(wd, RCL_WATCHDOG_WAKE_POLL, 0);
}

/* Fill the defaults. */
void rcl_watchdog_config_init(rcl_watchdog_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->enabled = true;
	cfg->soft = 0.80;
	cfg->hard = 0.95;
	cfg->hysteresis = 0.05;
	cfg->events = true;
	cfg->poll_min_ms = 10;
	cfg->poll_max_ms = 1000;
	cfg->fill_rate = (uint64_t)8 << 30;
	cfg->limit_refresh_ms = 5000;
	cfg->repeat_ms = 1000;
	cfg->pace_start = 0.50;
	cfg->pace_divisor = 4;
	cfg->pace_min_bytes = (size_t)1 << 20;
	cfg->young_bytes = RCL_DEFAULT_YOUNG_BYTES;
	cfg->workers = 1;
	cfg->gc_cpu_cap = 0.50;
	cfg->gc_window_ms = 1000;
	cfg->growth_ratio = 1.0;
	cfg->growth_min_bytes = (size_t)16 << 20;
	cfg->growth_min_objects = 100000;
	cfg->leak_collections = 3;
	cfg->leak_min_bytes = (size_t)1 << 20;
	cfg->psi_stall_us = 150000;
	cfg->psi_window_us = 2000000;
	cfg->systemd_pressure = true;
}

/* The gauge's reader for a host's source: a sample, the limit as it was. */
static int source_usage(void *ctx, uint64_t *usage)
{
	rcl_watchdog *wd = ctx;
	rcl_watchdog_sample s;

	memset(&s, 0, sizeof s);
	if (wd->src.sample(wd->src.ctx, &s, false) != 0)
		return -1;
	*usage = s.usage;
	return 0;
}

/* A heap refused memory and woke us: look now. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	rcl_watchdog *wd = arg;
	uint64_t n;

	if (read(fd, &n, sizeof n) < 0) {
		/* EAGAIN: another wake-up drained it */
	}
	wd_wakeup(wd, RCL_WATCHDOG_WAKE_ADMISSION, now(wd));
}

/* The gauge the heaps attach to, reading through our source, and the
 * eventfd they wake us with (with an event base only). */
static int open_gauge(rcl_watchdog *wd)
{
	struct rcl_gauge *g = gauge_create();
	int fd;

	if (g == NULL)
		return -1;
	wd->gauge = g;
	g->read = wd->proc != NULL ? wd_proc_usage : source_usage;
	g->read_ctx = wd->proc != NULL ? (void *)wd->proc : (void *)wd;
	gauge_levels(wd);
	if (wd->base == NULL)
		return 0;
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0)
		return -1;
	wd->wake_ev = event_new(wd->base, fd, EV_READ | EV_PERSIST, on_wake, wd);
	if (wd->wake_ev == NULL || event_add(wd->wake_ev, NULL) != 0) {
		close(fd);
		return -1;
	}
	g->wake_fd = fd;
	return 0;
}

/* Let go of the gauge: heaps still attached admit everything from now. */
static void close_gauge(rcl_watchdog *wd)
{
	struct rcl_gauge *g = wd->gauge;

	if (g == NULL)
		return;
	if (wd->wake_ev != NULL)
		event_free(wd->wake_ev);
	pthread_mutex_lock(&g->lock);
	g->read = NULL;
	if (g->wake_fd >= 0)
		close(g->wake_fd);
	g->wake_fd = -1;
	atomic_store(&g->soft, 0);
	atomic_store(&g->hard, 0);
	pthread_mutex_unlock(&g->lock);
	gauge_unref(g);
	wd->gauge = NULL;
}

/* Set up the built-in source, or copy the caller's. */
static int open_source(rcl_watchdog *wd, const rcl_watchdog_source *source)
{
	if (source != NULL) {
		wd->src = *source;
		return 0;
	}
	wd->proc = calloc(1, sizeof *wd->proc);
	if (wd->proc == NULL)
		return -1;
	if (wd_proc_open(wd->proc, wd->cfg.limit_bytes, wd->cfg.cgroup) != 0)
		return -1;
	wd->src.sample = wd_proc_sample;
	wd->src.ctx = wd->proc;
	return 0;
}

/* Create a watchdog; see watchdog.h. */
rcl_watchdog *rcl_watchdog_create(struct event_base *base,
				  const rcl_watchdog_config *cfg,
				  const rcl_watchdog_hooks *hooks,
				  const rcl_watchdog_source *source, char *err,
				  size_t errlen)
{
	rcl_watchdog *wd;

	wd = calloc(1, sizeof *wd);
	if (wd == NULL)
		return NULL;
	if (cfg != NULL)
		wd->cfg = *cfg;
	else
		rcl_watchdog_config_init(&wd->cfg);
	if (rcl_watchdog_config_validate(&wd->cfg, err, errlen) != 0) {
		free(wd);
		errno = EINVAL;
		return NULL;
	}
	if (hooks != NULL)
		wd->hooks = *hooks;
	wd->base = base;
	wd_notify_init(&wd->notify);
	wd->young_applied = wd->cfg.young_bytes;
	wd->st.young_bytes = wd->cfg.young_bytes;
	if (open_source(wd, source) != 0 || open_gauge(wd) != 0)
		goto fail;
	wd->level_since = wd->cpu_slot_start = now(wd);
	if (!wd->cfg.enabled)
		return wd;
	take_sample(wd, wd->level_since);
	if (base != NULL) {
		wd->poll_ev = evtimer_new(base, on_poll, wd);
		if (wd->poll_ev == NULL)
			goto fail;
		if (wd->cfg.events)
			wd_notify_arm(wd);
	}
	wd_wakeup(wd, RCL_WATCHDOG_WAKE_MANUAL, 0);
	return wd;
fail:
	if (errlen > 0)
		snprintf(err, errlen, "watchdog: %s", strerror(errno));
	rcl_watchdog_destroy(wd);
	return NULL;
}

/* Free a watchdog; lift shedding if it was on. */
void rcl_watchdog_destroy(rcl_watchdog *wd)
{
	if (wd == NULL)
		return;
	close_gauge(wd);
	wd_notify_disarm(wd);
	if (wd->poll_ev != NULL)
		event_free(wd->poll_ev);
	if (wd->st.shedding && wd->hooks.shed != NULL)
		wd->hooks.shed(wd->hooks.arg, false);
	if (wd->proc != NULL)
		wd_proc_close(wd->proc);
	free(wd->proc);
	free(wd);
}

/* Sample now and act. */
int rcl_watchdog_check(rcl_watchdog *wd)
{
	wd_wakeup(wd, RCL_WATCHDOG_WAKE_MANUAL, 0);
	return wd->level;
}

/* A host's own wake-up, timed from now. */
int rcl_watchdog_notify(rcl_watchdog *wd, int wakeup)
{
	if (wakeup < 0 || wakeup >= RCL_WATCHDOG_WAKEUPS)
		wakeup = RCL_WATCHDOG_WAKE_MANUAL;
	wd_wakeup(wd, wakeup, now(wd));
	return wd->level;
}

/* Force a collection for a reason (reclaimctl, tests). */
void rcl_watchdog_force(rcl_watchdog *wd, int generation, int reason)
{
	if (generation < 0 || generation >= RCL_GENERATIONS)
		generation = RCL_GENERATIONS - 1;
	if (reason < 0 || reason >= RCL_WATCHDOG_REASONS)
		reason = RCL_WATCHDOG_REASON_MANUAL;
	if (collect(wd, generation, reason, 0) == DONE)
		trim(wd);
}

/* An asynchronous collection finished: time it, trim, look again. */
void rcl_watchdog_collect_done(rcl_watchdog *wd)
{
	uint64_t t = now(wd);

	if (!wd->pending)
		return;
	wd->pending = false;
	if (wd->pending_t0 != 0)
		record_reaction(wd, t - wd->pending_t0);
	if (wd_trims_after(wd, wd->pending_reason))
		trim(wd);
	/* The end of react() for a collection the host finished later: shed
	 * if usage stays over hard at critical (without this, a host with an
	 * asynchronous collect hook, reclaimd, never shed). */
	if (wd->level >= RCL_WATCHDOG_CRITICAL && wd->cfg.enabled &&
	    take_sample(wd, t = now(wd))) {
		set_level(wd,
			  wd->s.usage >= wd->hard ? RCL_WATCHDOG_SHEDDING
						  : classify(wd),
			  t);
		acted(wd);
	}
	wd_wakeup(wd, RCL_WATCHDOG_WAKE_MANUAL, 0);
}

/* Re-read the limit now. */
void rcl_watchdog_refresh(rcl_watchdog *wd)
{
	wd->have_sample = false;
	wd_wakeup(wd, RCL_WATCHDOG_WAKE_MANUAL, 0);
}

/* Change the configuration; the limit is re-read and thresholds re-armed. */
int rcl_watchdog_reconfigure(rcl_watchdog *wd, const rcl_watchdog_config *cfg,
			     char *err, size_t errlen)
{
	bool moved = strcmp(cfg->cgroup, wd->cfg.cgroup) != 0;

	if (rcl_watchdog_config_validate(cfg, err, errlen) != 0)
		return -1;
	wd->cfg = *cfg;
	pthread_mutex_lock(&wd->gauge->lock); /* heaps read through proc */
	if (wd->proc != NULL && moved) {
		/* another cgroup to watch: find it and its files again */
		wd_proc_close(wd->proc);
		wd_proc_open(wd->proc, cfg->limit_bytes, cfg->cgroup);
	} else if (wd->proc != NULL) {
		wd->proc->config_limit = cfg->limit_bytes;
	}
	pthread_mutex_unlock(&wd->gauge->lock);
	wd->have_sample = false;
	if (!cfg->enabled) {
		set_level(wd, RCL_WATCHDOG_NORMAL, now(wd));
		gauge_levels(wd);
		return 0;
	}
	wd_wakeup(wd, RCL_WATCHDOG_WAKE_MANUAL, 0);
	set_thresholds(wd);
	wd_notify_rearm(wd);
	return 0;
}

/* Attach h: its allocations are admitted against our levels. */
int rcl_watchdog_attach(rcl_watchdog *wd, rcl_heap *h)
{
	if (wd == NULL || h == NULL) {
		errno = EINVAL;
		return -1;
	}
	heap_set_gauge(h, gauge_ref(wd->gauge));
	return 0;
}

/* Detach h from its watchdog, if any. */
void rcl_watchdog_detach(rcl_heap *h)
{
	if (h != NULL)
		heap_set_gauge(h, NULL);
}

/* The admission figures, summed over the attached heaps. */
static void gauge_stats(const rcl_watchdog *wd, rcl_watchdog_stats *out)
{
	struct rcl_gauge *g = wd->gauge;

	out->heaps = atomic_load(&g->heaps);
	out->estimate_bytes = gauge_estimate(g);
	out->refused = atomic_load(&g->refused);
	out->refused_bytes = atomic_load(&g->refused_bytes);
	out->admission_collections = atomic_load(&g->collections);
	out->admission_readings = atomic_load(&g->heap_readings);
	out->admission_wakes = atomic_load(&g->wakes);
}

/* Whether a forced collection for reason is followed by a trim. */
bool rcl_watchdog_trims(const rcl_watchdog *wd, int reason)
{
	return wd != NULL && wd_trims_after(wd, reason);
}

/* The level now. */
int rcl_watchdog_level(const rcl_watchdog *wd)
{
	return wd->level;
}

/* Whether the host should refuse new work. */
bool rcl_watchdog_shedding(const rcl_watchdog *wd)
{
	return wd->level == RCL_WATCHDOG_SHEDDING;
}

/* Count a request refused while shedding. */
void rcl_watchdog_count_shed(rcl_watchdog *wd)
{
	wd->st.shed_requests++;
}

/* The hook for collection time throttled (see watchdog.h). */
void rcl_watchdog_set_throttle_hook(rcl_watchdog *wd,
				    void (*throttle)(void *arg, bool on))
{
	wd->throttle = throttle;
}

/* A snapshot of the telemetry. */
void rcl_watchdog_stats_get(const rcl_watchdog *wd, rcl_watchdog_stats *out)
{
	*out = wd->st;
	out->enabled = wd->cfg.enabled;
	out->limit_bytes = wd->s.limit;
	out->limit_source = wd->s.limit_source;
	out->usage_bytes = wd->s.usage;
	out->rss_bytes = wd->s.rss;
	out->raw_usage_bytes = wd->s.raw_usage;
	out->reclaimable_bytes = wd->s.reclaimable;
	out->oom_kills = wd->s.oom_kills;
	out->soft_bytes = wd->s.limit ? wd->soft : 0;
	out->hard_bytes = wd->s.limit ? wd->hard : 0;
	out->level = wd->level;
	out->time_in_level_ns[wd->level] += now(wd) - wd->level_since;
	out->cgroup[0] = '\0';
	if (wd->proc != NULL) {
		wd_proc_where(wd->proc, out->cgroup, sizeof out->cgroup);
		snprintf(out->limit_reason, sizeof out->limit_reason, "%s",
			 wd_proc_reason(wd->proc));
	}
	snprintf(out->notify, sizeof out->notify, "%s",
		 wd->notify.desc[0] ? wd->notify.desc : "poll");
	gauge_stats(wd, out);
}
