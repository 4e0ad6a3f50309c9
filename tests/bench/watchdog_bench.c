/*
 * The watchdog's benchmark (figures, not a test): reaction time from
 * crossing the soft level to the end of the forced collection, with kernel
 * notification and with polling only, and the watchdog's CPU when idle.
 *
 *   bench-watchdog react ROUNDS events|poll [LIMIT]
 *   bench-watchdog idle SECONDS events|poll [LIMIT]
 *
 * Run it through tests/bench/watchdog.sh, which makes a memory cgroup for
 * it. react allocates 8 MiB Runner <-> Task garbage cycles on the watchdog's
 * event base (collection off, so only the watchdog collects) on top of
 * live data that leaves 64 MiB below soft, until usage crosses soft. After each
 * allocation the benchmark reads usage itself (as the watchdog would, with
 * rcl_watchdog_probe()); the first allocation after which usage is over soft is
 * the crossing, timed from the end of that probe (so the probe is not counted,
 * and the crossing byte, written during the last 8 MiB memset, is up to ~1 ms
 * earlier). LIMIT (bytes, "512M") sets a configured limit instead of the
 * cgroup's.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <reclaim/reclaim.h>

#include "value.h"

#define PAYLOAD ((size_t)8 << 20)
#define MAX_ROUNDS 10000
#define MAX_HEAP ((size_t)2 << 30)

struct cycle {
	void *other;
	char *payload;
	size_t size;
};

/* The benchmark's state, on the event base's thread. */
struct bench {
	struct event_base *base;
	struct event *tick;
	rcl_heap *h;
	rcl_watchdog *wd;
	int rounds, done;
	rcl_watchdog_config cfg;
	uint64_t soft;	    /* the soft level in bytes */
	uint64_t cross;	    /* when usage was first seen over soft, or 0 */
	uint64_t *reaction; /* per round, ns */
	uint64_t *collect;  /* per round, the collection alone */
	uint64_t *latency;  /* per round, crossing to collection start */
	bool failed;
	void *live; /* the ballast */
	size_t live_size;
};

/* CLOCK_MONOTONIC in ns. */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Visit the other half of the cycle. */
static void cycle_traverse(void *self, rcl_visit_fn visit, void *arg)
{
	struct cycle *c = self;

	if (c->other != NULL)
		visit(c->other, "other", arg);
}

/* Drop the other half. */
static void cycle_clear(void *self)
{
	struct cycle *c = self;
	void *o = c->other;

	c->other = NULL;
	rcl_decref(o);
}

/* Free the payload. */
static void cycle_destroy(void *self)
{
	struct cycle *c = self;

	if (c->payload != NULL)
		rcl_owned_free(self, c->payload, c->size);
	c->payload = NULL;
}

static const rcl_type cycle_type = {
    .name = "Cycle",
    .size = sizeof(struct cycle),
    .traverse = cycle_traverse,
    .clear = cycle_clear,
    .destroy = cycle_destroy,
};

/* One garbage cycle owning 8 MiB, written. */
static int garbage(rcl_heap *h)
{
	struct cycle *a = rcl_new(h, &cycle_type);
	struct cycle *b = rcl_new(h, &cycle_type);

	if (a == NULL || b == NULL)
		return -1;
	b->payload = rcl_owned_alloc(b, PAYLOAD);
	b->size = PAYLOAD;
	if (b->payload == NULL)
		return -1;
	memset(b->payload, 0x5a, PAYLOAD);
	a->other = b;
	rcl_incref(a);
	b->other = a;
	rcl_decref(a);
	return 0;
}

/* The watchdog's collect hook: time the collection and the reaction. */
static int bench_collect(void *arg, int gen, int reason)
{
	struct bench *b = arg;
	uint64_t start = now_ns(), end;

	rcl_collect(b->h, gen);
	end = now_ns();
	if (b->done < b->rounds && b->cross != 0) {
		b->reaction[b->done] = end - b->cross;
		b->collect[b->done] = end - start;
		b->latency[b->done] = start - b->cross;
		b->done++;
		b->cross = 0;
	}
	return 0;
}

/* Trim after the watchdog's collections, as the daemon does. */
static size_t bench_trim(void *arg)
{
	return rcl_watchdog_trim();
}

/* One tick: allocate a cycle, then give the loop back to the watchdog. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;
	struct timeval zero = {0, 0};
	rcl_watchdog_sample s;
	rcl_stats st;

	if (b->done >= b->rounds) {
		event_base_loopbreak(b->base);
		return;
	}
	rcl_heap_stats(b->h, &st);
	if (st.bytes > MAX_HEAP || garbage(b->h) != 0) {
		fprintf(stderr,
			"bench-watchdog: the watchdog did not collect "
			"(heap %zu MiB); stopping\n",
			st.bytes >> 20);
		b->failed = true;
		event_base_loopbreak(b->base);
		return;
	}
	if (b->cross == 0 && rcl_watchdog_probe(&b->cfg, &s, NULL, 0) == 0 &&
	    s.usage >= b->soft)
		b->cross = now_ns();
	evtimer_add(b->tick, &zero);
}

/* Compare for qsort. */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile of n sorted values, in ms. */
static double quantile(const uint64_t *v, int n, double q)
{
	int i = (int)(q * (n - 1) + 0.5);

	return n > 0 ? (double)v[i] / 1e6 : 0;
}

/* Print p50, p99 and max of n values. */
static void print_quantiles(const char *what, uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_u64);
	printf("  %-34s p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms\n", what,
	       quantile(v, n, 0.5), quantile(v, n, 0.99),
	       n ? (double)v[n - 1] / 1e6 : 0.0);
}

/* The watchdog for a mode: events or polling only, a limit if given. */
static rcl_watchdog *make_watchdog(struct bench *b, bool events,
				   const char *limit)
{
	rcl_watchdog_hooks hooks = {
	    .collect = bench_collect, .trim = bench_trim, .arg = b};
	rcl_watchdog_config cfg;
	rcl_watchdog_stats st;
	char err[256];
	rcl_watchdog *wd;

	rcl_watchdog_config_init(&cfg);
	cfg.events = events;
	cfg.young_bytes = 0;
	cfg.systemd_pressure = false;
	if (limit != NULL &&
	    value_size(limit, &cfg.limit_bytes, err, sizeof err) != 0) {
		fprintf(stderr, "bench-watchdog: limit \"%s\" is %s\n", limit,
			err);
		return NULL;
	}
	wd = rcl_watchdog_create(b->base, &cfg, &hooks, NULL, err, sizeof err);
	if (wd == NULL) {
		fprintf(stderr, "bench-watchdog: %s\n", err);
		return NULL;
	}
	b->cfg = cfg;
	rcl_watchdog_stats_get(wd, &st);
	b->soft = st.soft_bytes;
	return wd;
}

/* Print what the watchdog itself recorded. */
static void print_watchdog(const rcl_watchdog *wd)
{
	rcl_watchdog_stats st;
	int i;

	rcl_watchdog_stats_get(wd, &st);
	printf("  limit %llu MiB (%s), notify %s, forced %llu, trims %llu "
	       "(%llu MiB back)\n",
	       (unsigned long long)(st.limit_bytes >> 20),
	       rcl_watchdog_limit_source_name(st.limit_source), st.notify,
	       (unsigned long long)st.forced_total,
	       (unsigned long long)st.trims,
	       (unsigned long long)(st.trim_bytes >> 20));
	printf("  wake-ups:");
	for (i = 0; i < RCL_WATCHDOG_WAKEUPS; i++)
		printf(" %s %llu", rcl_watchdog_wakeup_name(i),
		       (unsigned long long)st.wakeups[i]);
	printf("\n  watchdog's histogram (wake-up to end): ");
	for (i = 0; i < RCL_WATCHDOG_REACTION_BUCKETS; i++) {
		if (st.reaction_hist[i] == 0)
			continue;
		if (rcl_watchdog_reaction_bounds_ns[i] == UINT64_MAX)
			printf("+Inf:%llu ",
			       (unsigned long long)st.reaction_hist[i]);
		else
			printf("<=%gms:%llu ",
			       (double)rcl_watchdog_reaction_bounds_ns[i] / 1e6,
			       (unsigned long long)st.reaction_hist[i]);
	}
	printf("\n");
}

/* Live data up to 64 MiB under soft, as a service near its limit has, so
 * each forced collection frees about 64 MiB of recent garbage. */
static int ballast(struct bench *b)
{
	rcl_watchdog_sample s;
	struct cycle *c;
	size_t size;

	if (rcl_watchdog_probe(&b->cfg, &s, NULL, 0) != 0 ||
	    s.usage + (96 << 20) > b->soft)
		return 0;
	size = (size_t)(b->soft - s.usage - (64 << 20));
	c = rcl_new(b->h, &cycle_type);
	if (c == NULL || (c->payload = rcl_owned_alloc(c, size)) == NULL)
		return -1;
	c->size = size;
	memset(c->payload, 0x33, size);
	b->live = c;
	b->live_size = size;
	return 0;
}

/* Reaction time over rounds crossings of the soft level. */
static int react(struct bench *b, bool events, const char *limit)
{
	struct timeval zero = {0, 0};
	rcl_config hc;

	rcl_config_init(&hc);
	hc.auto_collect = false;
	hc.young_bytes = 0;
	b->h = rcl_heap_new(&hc);
	b->reaction = calloc((size_t)b->rounds, sizeof *b->reaction);
	b->collect = calloc((size_t)b->rounds, sizeof *b->collect);
	b->latency = calloc((size_t)b->rounds, sizeof *b->latency);
	b->tick = evtimer_new(b->base, on_tick, b);
	if (b->h == NULL || b->reaction == NULL || b->collect == NULL ||
	    b->latency == NULL || b->tick == NULL)
		return 1;
	b->wd = make_watchdog(b, events, limit);
	if (b->wd == NULL || ballast(b) != 0)
		return 1;
	evtimer_add(b->tick, &zero);
	event_base_dispatch(b->base);
	printf("reaction, %s (%d crossings of soft, 8 MiB cycles):\n",
	       events ? "kernel notification" : "polling only", b->done);
	print_quantiles("crossing -> end of collection:", b->reaction, b->done);
	print_quantiles("crossing -> start of collection:", b->latency,
			b->done);
	print_quantiles("the collection (frees ~64 MiB):", b->collect, b->done);
	print_watchdog(b->wd);
	rcl_watchdog_destroy(b->wd);
	event_free(b->tick);
	rcl_decref(b->live);
	b->live = NULL;
	rcl_heap_destroy(b->h);
	free(b->reaction);
	free(b->collect);
	free(b->latency);
	return b->failed ? 1 : 0;
}

/* CPU seconds this process used. */
static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The watchdog's CPU over seconds of an otherwise idle event loop. */
static int idle(struct bench *b, int seconds, bool events, const char *limit)
{
	struct timeval tv = {seconds, 0};
	rcl_watchdog_stats st;
	double c0, t0, cpu, wall;

	b->wd = make_watchdog(b, events, limit);
	if (b->wd == NULL)
		return 1;
	c0 = cpu_seconds();
	t0 = (double)now_ns() / 1e9;
	event_base_loopexit(b->base, &tv);
	event_base_dispatch(b->base);
	cpu = cpu_seconds() - c0;
	wall = (double)now_ns() / 1e9 - t0;
	rcl_watchdog_stats_get(b->wd, &st);
	printf("idle, %s: %.3f%% CPU over %.1f s (%llu samples, poll every "
	       "%u ms, usage %llu of %llu MiB)\n",
	       events ? "kernel notification" : "polling only",
	       100 * cpu / wall, wall, (unsigned long long)st.samples,
	       st.poll_interval_ms, (unsigned long long)(st.usage_bytes >> 20),
	       (unsigned long long)(st.limit_bytes >> 20));
	rcl_watchdog_destroy(b->wd);
	return 0;
}

int main(int argc, char **argv)
{
	struct bench b = {0};
	bool events;
	int n, rc;

	if (argc < 4 || argc > 5 ||
	    (strcmp(argv[3], "events") != 0 && strcmp(argv[3], "poll") != 0)) {
		fprintf(stderr, "usage: bench-watchdog react ROUNDS|idle "
				"SECONDS events|poll [LIMIT]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	n = atoi(argv[2]);
	events = strcmp(argv[3], "events") == 0;
	b.base = event_base_new();
	if (b.base == NULL || n <= 0 || n > MAX_ROUNDS)
		return 2;
	b.rounds = n;
	if (strcmp(argv[1], "react") == 0)
		rc = react(&b, events, argc == 5 ? argv[4] : NULL);
	else
		rc = idle(&b, n, events, argc == 5 ? argv[4] : NULL);
	event_base_free(b.base);
	return rc;
}
