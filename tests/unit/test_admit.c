/*
 * Admission, budgets and large blocks, through the public API: heaps
 * attached to a watchdog whose limit is the test's (usage is the process's
 * real RSS, the limit 100 MiB above it, whatever cgroup the test runs in),
 * and heaps under a budget.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <reclaim/reclaim.h>
#include <reclaim/types.h>
#include <reclaim/watchdog.h>

#include "testobj.h"
#include "unit.h"

#define MiB ((size_t)1 << 20)

/* The test's world: the limit, and the RSS when it was set. */
struct fake {
	uint64_t rss0, limit;
};

/* The process's RSS from /proc/self/statm. */
static uint64_t rss(void)
{
	unsigned long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%lu %lu", &size, &res), 2);
	fclose(f);
	return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* A memory source: usage is the real RSS, the limit the test's. */
static int fake_sample(void *ctx, rcl_watchdog_sample *out, bool refresh)
{
	struct fake *f = ctx;

	out->usage = out->rss = rss();
	out->limit = f->limit;
	out->limit_source = RCL_WATCHDOG_LIMIT_CONFIG;
	return 0;
}

/* A watchdog on f: the limit 100 MiB above the RSS now, soft 80%, hard
 * 95% (so RSS0 + 75 and + 90 MiB, give or take 5% of RSS0); no hooks. */
static rcl_watchdog *make_watchdog(struct fake *f)
{
	rcl_watchdog_source src = {fake_sample, NULL, f};
	char err[256];
	rcl_watchdog *wd;

	f->rss0 = rss();
	f->limit = f->rss0 + 100 * MiB;
	wd = rcl_watchdog_create(NULL, NULL, NULL, &src, err, sizeof err);
	assert_non_null(wd);
	return wd;
}

/* A node of type t with an id, counting its destruction. */
static node *new_node(rcl_heap *h, const rcl_type *t, int id, int *destroyed)
{
	node *n = rcl_new(h, t);

	if (n != NULL) {
		n->id = id;
		n->destroyed = destroyed;
	}
	return n;
}

/* a->f[i] = b, a new reference. */
static void point(node *a, int i, node *b)
{
	node_set(a, i, b);
}

/* Whether small objects come from the pool: not under AddressSanitizer
 * (it checks malloc's blocks instead), nor with RECLAIM_POOL=0. Says why
 * when not. */
static bool pool_on(void)
{
	const char *env = getenv("RECLAIM_POOL");

#if defined(__SANITIZE_ADDRESS__)
	print_message("skipped: built with AddressSanitizer, no pool\n");
	return false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	print_message("skipped: built with AddressSanitizer, no pool\n");
	return false;
#endif
#endif
	if (env && strcmp(env, "0") == 0) {
		print_message("skipped: RECLAIM_POOL=0, no pool\n");
		return false;
	}
	return true;
}

/* A bytes payload of n bytes, or NULL. */
static rcl_bytes *payload(rcl_heap *h, size_t n)
{
	return rcl_bytes_new(h, NULL, n);
}

/* Below soft everything is taken; past hard a block that cannot fit is
 * refused with ENOMEM after a full collection, counted, the heap intact;
 * freeing makes room again. */
static void test_refuse_past_hard(void **state)
{
	struct fake f;
	rcl_watchdog *wd = make_watchdog(&f);
	rcl_heap *h = rcl_heap_new(NULL);
	rcl_bytes *held[8] = {0};
	rcl_watchdog_stats ws;
	rcl_stats st;
	int i;

	assert_int_equal(rcl_watchdog_attach(wd, h), 0);
	for (i = 0; i < 4; i++) { /* RSS0 + 4 x 20 MiB: under hard */
		held[i] = payload(h, 20 * MiB);
		assert_non_null(held[i]);
	}
	errno = 0;
	assert_null(payload(h, 20 * MiB)); /* RSS0 + 100 MiB: past it */
	assert_int_equal(errno, ENOMEM);
	rcl_heap_stats(h, &st);
	assert_int_equal(st.refused_total, 1);
	assert_true(st.refused_bytes_total >= 20 * MiB);
	assert_true(st.collections_by_limit_total >= 1);
	assert_int_equal(rcl_heap_refusals(h), 1);
	assert_true(rcl_heap_validate(h));
	rcl_watchdog_stats_get(wd, &ws);
	assert_int_equal(ws.refused, 1);
	assert_int_equal(ws.heaps, 1);
	assert_true(ws.estimate_bytes >= f.rss0 + 80 * MiB);
	/* a small object still fits */
	assert_non_null(held[5] = payload(h, 1024));
	/* two payloads freed: their blocks leave the estimate */
	rcl_decref(held[0]);
	rcl_decref(held[1]);
	held[0] = held[1] = NULL;
	assert_non_null(held[6] = payload(h, 20 * MiB));
	for (i = 0; i < 8; i++)
		rcl_decref(held[i]);
	rcl_heap_destroy(h);
	rcl_watchdog_stats_get(wd, &ws);
	assert_int_equal(ws.heaps, 0);
	rcl_watchdog_destroy(wd);
}

/* Payloads held only by garbage cycles: past hard, admission's own full
 * collection frees them, and nothing is refused (count-only pacing, so
 * only admission collects). */
static void test_collect_before_refusing(void **state)
{
	struct fake f;
	rcl_watchdog *wd = make_watchdog(&f);
	rcl_config cfg;
	rcl_heap *h;
	int destroyed = 0;
	rcl_bytes *b;
	rcl_stats st;

	rcl_config_init(&cfg);
	cfg.young_bytes = 0;
	cfg.thresholds[0] = 0; /* no automatic collection but admission's */
	h = rcl_heap_new(&cfg);
	assert_int_equal(rcl_watchdog_attach(wd, h), 0);
	for (int i = 0; i < 40; i++) {
		node *a = new_node(h, &node_type, i, &destroyed);
		node *c = new_node(h, &node_type, i, &destroyed);

		assert_non_null(a);
		assert_non_null(c);
		point(a, 0, c);
		point(c, 0, a);
		a->f[1] = (node *)payload(h, 20 * MiB);
		assert_non_null(a->f[1]);
		rcl_decref(a);
		rcl_decref(c);
	}
	rcl_heap_stats(h, &st);
	assert_int_equal(st.refused_total, 0);
	assert_true(st.collections_by_limit_total > 0);
	assert_true(destroyed > 0);
	assert_true(st.block_bytes <= 95 * MiB);
	rcl_watchdog_destroy(wd); /* before the heap: it admits all from now */
	b = payload(h, 200 * MiB);
	assert_non_null(b);
	rcl_decref(b);
	rcl_heap_destroy(h);
}

/* Past soft the allocation path collects before taking memory, paced by
 * the headroom, though byte pacing is off. */
static void test_pace_past_soft(void **state)
{
	struct fake f;
	rcl_watchdog *wd = make_watchdog(&f);
	rcl_config cfg;
	rcl_heap *h;
	int destroyed = 0;
	rcl_bytes *ballast;
	rcl_stats st;

	rcl_config_init(&cfg);
	cfg.young_bytes = 0;
	cfg.thresholds[0] = 0;
	h = rcl_heap_new(&cfg);
	rcl_watchdog_attach(wd, h);
	ballast = payload(h, 82 * MiB); /* past soft, under hard */
	assert_non_null(ballast);
	for (int i = 0; i < 8; i++) {
		node *a = new_node(h, &node_type, i, &destroyed);

		point(a, 0, a);
		a->f[1] = (node *)payload(h, 2 * MiB);
		assert_non_null(a->f[1]);
		rcl_decref(a);
	}
	rcl_heap_stats(h, &st);
	assert_int_equal(st.refused_total, 0);
	assert_true(st.collections_by_limit_total >= 4);
	assert_true(destroyed >= 4);
	rcl_decref(ballast);
	rcl_heap_destroy(h);
	rcl_watchdog_destroy(wd);
}

/* Past soft an incremental heap speeds its pass up: an old garbage cycle
 * is found by increments, paced by the headroom, before the 10 MiB
 * (an eighth of the heap) its pass budget would be below soft, with no
 * stop-the-world full collection. */
static void test_incremental_past_soft(void **state)
{
	struct fake f;
	rcl_watchdog *wd = make_watchdog(&f);
	node *keep[2000], *cycle, *grow[80] = {0};
	int destroyed = 0, n = 0;
	uint64_t fulls;
	rcl_bytes *ballast;
	rcl_config cfg;
	rcl_heap *h;
	rcl_stats st;

	rcl_config_init(&cfg);
	cfg.young_bytes = 0;
	cfg.thresholds[0] = 0;
	h = rcl_heap_new(&cfg);
	rcl_set_incremental(h, true);
	rcl_set_increment_objects(h, 100);
	rcl_watchdog_attach(wd, h);
	for (int i = 0; i < 2000; i++)
		keep[i] = new_node(h, &node_type, i, NULL);
	cycle = new_node(h, &node_type, -1, &destroyed);
	point(cycle, 0, new_node(h, &node_type, -2, &destroyed));
	point(cycle->f[0], 0, cycle);
	rcl_decref(cycle->f[0]);
	ballast = payload(h, 82 * MiB); /* past soft, under hard */
	assert_non_null(ballast);
	rcl_collect(h, 2); /* all old; a pass begins */
	rcl_heap_stats(h, &st);
	fulls = st.gen[2].collections; /* the ballast's admission may have
					* collected whole: the old generation
					* was empty (heap_incremental_now) */
	rcl_decref(cycle); /* old garbage */
	while (destroyed == 0 && n < 80) { /* 80 x 128 KiB: 10 MiB */
		grow[n] = new_node(h, &node_type, n, NULL);
		grow[n]->f[1] = (node *)payload(h, 128 << 10);
		assert_non_null(grow[n++]->f[1]);
	}
	rcl_heap_stats(h, &st);
	assert_int_equal(destroyed, 2);
	assert_true(st.increments_total > 0);
	assert_int_equal(st.gen[2].collections, fulls); /* increments alone */
	assert_int_equal(st.refused_total, 0);
	print_message("# old cycle found past soft after %d x 128 KiB, %llu "
		      "increments\n",
		      n, (unsigned long long)st.increments_total);
	for (int i = 0; i < n; i++)
		rcl_decref(grow[i]);
	for (int i = 0; i < 2000; i++)
		rcl_decref(keep[i]);
	rcl_decref(ballast);
	rcl_heap_destroy(h);
	rcl_watchdog_destroy(wd);
}

/* A watchdog that knows no limit, or is disabled, admits everything. */
static void test_no_limit_admits(void **state)
{
	struct fake f;
	rcl_watchdog *wd = make_watchdog(&f);
	rcl_watchdog_config cfg;
	rcl_heap *h = rcl_heap_new(NULL);
	rcl_bytes *b;
	char err[128];

	rcl_watchdog_attach(wd, h);
	rcl_watchdog_config_init(&cfg);
	cfg.enabled = false;
	assert_int_equal(rcl_watchdog_reconfigure(wd, &cfg, err, sizeof err),
			 0);
	b = payload(h, 200 * MiB);
	assert_non_null(b);
	rcl_decref(b);
	rcl_watchdog_detach(h);
	rcl_watchdog_detach(h); /* twice: a no-op */
	rcl_heap_destroy(h);
	rcl_watchdog_destroy(wd);
}

#define RACERS 3
#define ROUNDS 40

/* The race: the watchdog, and what the racers took each round. */
struct race {
	rcl_watchdog *wd;
	pthread_barrier_t go;
	atomic_int taken[ROUNDS];
	atomic_int refused[ROUNDS];
};

/* Each round, all racers ask for 40 MiB at once, hold it until all have
 * asked, then free it. No block cache: every round maps anew. */
static void *racer(void *arg)
{
	struct race *r = arg;
	rcl_config cfg;
	rcl_heap *h;

	rcl_config_init(&cfg);
	cfg.block_cache_bytes = 0;
	h = rcl_heap_new(&cfg);
	rcl_watchdog_attach(r->wd, h);
	for (int i = 0; i < ROUNDS; i++) {
		rcl_bytes *b;

		pthread_barrier_wait(&r->go);
		b = payload(h, 40 * MiB);
		atomic_fetch_add(b != NULL ? &r->taken[i] : &r->refused[i], 1);
		pthread_barrier_wait(&r->go);
		rcl_decref(b);
	}
	rcl_heap_destroy(h);
	return NULL;
}

/* Three heaps on three threads against one watchdog, asking for 40 MiB
 * each at the same moment with RSS0 + 90 MiB to the hard level: two fit,
 * never three, however the threads interleave (each admission reserves
 * before it compares), in every round. */
static void test_heaps_race(void **state)
{
	static struct race r;
	struct fake f;
	pthread_t t[RACERS];
	int taken = 0, refused = 0;

	r.wd = make_watchdog(&f);
	pthread_barrier_init(&r.go, NULL, RACERS);
	for (int i = 0; i < RACERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, racer, &r), 0);
	for (int i = 0; i < RACERS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < ROUNDS; i++) {
		assert_true(r.taken[i] <= 2);
		assert_true(r.refused[i] >= 1);
		taken += r.taken[i];
		refused += r.refused[i];
	}
	printf("race: %d rounds of %d heaps: %d taken, %d refused\n", ROUNDS,
	       RACERS, taken, refused);
	assert_true(taken >= ROUNDS); /* not refusing everything either */
	pthread_barrier_destroy(&r.go);
	rcl_watchdog_destroy(r.wd);
}

/* A budget caps the heap's net growth: objects past it are refused with
 * ENOMEM (within a pool page), counted in the budget and the heap; unset,
 * the heap takes memory again and the budget's used is up to date. */
static void test_budget(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	rcl_budget b = {.limit = 1 * MiB};
	node *keep = NULL, *n;
	int made = 0, destroyed = 0;
	rcl_stats st;

	assert_null(rcl_heap_set_budget(h, &b));
	for (;;) { /* a chain that stays alive */
		n = new_node(h, &node_type, made, &destroyed);
		if (n == NULL)
			break;
		n->f[0] = keep;
		keep = n;
		made++;
	}
	assert_int_equal(errno, ENOMEM);
	assert_true(b.refused >= 1);
	/* checked at each new pool page: past the limit by less than one */
	assert_true(rcl_budget_used(h, &b) <= (ptrdiff_t)(1 * MiB + 64 * 1024));
	assert_true(rcl_budget_used(h, &b) >= (ptrdiff_t)(1 * MiB - 64 * 1024));
	rcl_heap_stats(h, &st);
	assert_int_equal(st.refused_budget_total, b.refused);
	assert_int_equal(st.refused_total, b.refused);
	assert_true(rcl_heap_set_budget(h, NULL) == &b);
	assert_true(b.used >= (ptrdiff_t)(1 * MiB - 64 * 1024));
	n = new_node(h, &node_type, -1, &destroyed);
	assert_non_null(n);
	rcl_decref(n);
	/* the budget counts from where it is set: the chain is not in it */
	b.used = 0;
	rcl_heap_set_budget(h, &b);
	assert_non_null(n = new_node(h, &node_type, -2, &destroyed));
	rcl_decref(n);
	rcl_decref(keep);
	rcl_heap_set_budget(h, NULL);
	assert_true(b.used < 0); /* the chain was freed while it was set */
	assert_true(rcl_heap_validate(h));
	rcl_heap_destroy(h);
}

/* Cyclic garbage made under a budget does not make the work fail: the
 * budget's full collection frees it first. */
static void test_budget_collects(void **state)
{
	rcl_config cfg;
	rcl_heap *h;
	rcl_budget b = {.limit = 4 * MiB};
	int destroyed = 0;

	rcl_config_init(&cfg);
	cfg.thresholds[0] = 0;
	cfg.young_bytes = 0;
	h = rcl_heap_new(&cfg);
	rcl_heap_set_budget(h, &b);
	for (int i = 0; i < 200; i++) {
		node *a = new_node(h, &node_type, i, &destroyed);

		assert_non_null(a);
		point(a, 0, a);
		a->f[1] = (node *)payload(h, 256 * 1024);
		assert_non_null(a->f[1]);
		rcl_decref(a);
	}
	assert_int_equal(b.refused, 0);
	assert_true(destroyed > 0);
	rcl_heap_set_budget(h, NULL);
	rcl_heap_destroy(h);
}

/* Large blocks: a freed one is reused for the next of about its size,
 * trimmed on demand, and released after a second unused. */
static void test_block_cache(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	rcl_stats st;
	rcl_bytes *a, *b, *c;

	a = payload(h, 3 * MiB);
	assert_non_null(a);
	rcl_heap_stats(h, &st);
	assert_int_equal(st.block_maps_total, 1);
	assert_true(st.block_bytes >= 3 * MiB);
	rcl_decref(a);
	rcl_heap_stats(h, &st);
	assert_true(st.cached_bytes >= 3 * MiB);
	b = payload(h, 3 * MiB - 4096); /* close enough to reuse */
	rcl_heap_stats(h, &st);
	assert_int_equal(st.block_maps_total, 1);
	assert_int_equal(st.block_reuses_total, 1);
	assert_int_equal(st.cached_bytes, 0);
	c = payload(h, 1 * MiB); /* too small for a 3 MiB block */
	rcl_decref(b);
	rcl_decref(c);
	rcl_heap_stats(h, &st);
	assert_int_equal(st.block_maps_total, 2);
	assert_true(st.cached_bytes >= 4 * MiB);
	assert_true(rcl_heap_trim(h) >= 4 * MiB);
	rcl_heap_stats(h, &st);
	assert_int_equal(st.cached_bytes, 0);
	assert_int_equal(st.block_bytes, 0);
	/* idle release */
	rcl_decref(payload(h, 2 * MiB));
	assert_int_equal(rcl_heap_release_idle(h), 0); /* just freed */
	usleep(1100 * 1000);
	assert_true(rcl_heap_release_idle(h) >= 2 * MiB);
	rcl_heap_destroy(h);
}

/* Seconds on the monotonic clock. */
static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* n garbage cycles of two nodes, then a full collection; the seconds the
 * collection took. */
static double cycles_collected(rcl_heap *h, int n)
{
	double t0;

	for (int i = 0; i < n; i++) {
		node *a = new_node(h, &node_type, i, NULL);
		node *b = new_node(h, &node_type, i, NULL);

		assert_non_null(a);
		assert_non_null(b);
		point(a, 0, b);
		point(b, 0, a);
		rcl_decref(a);
		rcl_decref(b);
	}
	t0 = mono_s();
	assert_int_equal(rcl_collect(h, 2), 2 * (size_t)n);
	return mono_s() - t0;
}

/*
 * The pages a collection frees stay resident for the allocations that
 * follow (no page fault, no madvise in the pause), are taken again before
 * any new one, and go back to the kernel by rcl_heap_trim(), or after a
 * second unused. 100,000 cycles of two nodes fill about 16 MiB of pages.
 */
static void test_pool_pages_kept(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	const size_t held = 8 * MiB;
	rcl_stats st;
	double took;

	if (!pool_on()) {
		rcl_heap_destroy(h);
		skip(); /* pool_on() said why */
	}
	rcl_auto_collect(h, false); /* one collection frees them all */
	took = cycles_collected(h, 100000);
	rcl_heap_stats(h, &st);
	if (took < 0.9) /* else the first page freed may be a second old */
		assert_true(st.pool_free_bytes >= held);
	/* made again: from the free pages, not new ones */
	cycles_collected(h, 100000);
	rcl_heap_stats(h, &st);
	if (took < 0.9)
		assert_true(st.pool_free_bytes >= held);
	assert_true(rcl_heap_trim(h) >= held);
	rcl_heap_stats(h, &st);
	assert_int_equal(st.pool_free_bytes, 0);
	/* idle release: not before a second, all of it after */
	took = mono_s();
	cycles_collected(h, 100000);
	if (rcl_heap_release_idle(h) == 0)
		assert_true(mono_s() - took < 1.0);
	usleep(1100 * 1000);
	rcl_heap_release_idle(h);
	rcl_heap_stats(h, &st);
	assert_true(st.pool_free_bytes <= 4 * 64 * 1024); /* the spares */
	rcl_heap_destroy(h);
}

/* Three freed blocks: two are kept (the oldest leaves), and never more
 * than block_cache_bytes; a block larger than that is never kept. */
static void test_block_cache_bounds(void **state)
{
	rcl_config cfg;
	rcl_heap *h;
	rcl_bytes *b[3];
	rcl_stats st;

	rcl_config_init(&cfg);
	cfg.block_cache_bytes = 5 * MiB;
	h = rcl_heap_new(&cfg);
	for (int i = 0; i < 3; i++)
		b[i] = payload(h, 2 * MiB);
	for (int i = 0; i < 3; i++)
		rcl_decref(b[i]);
	rcl_heap_stats(h, &st);
	assert_true(st.cached_bytes >= 4 * MiB && st.cached_bytes <= 5 * MiB);
	rcl_decref(payload(h, 6 * MiB));
	rcl_heap_stats(h, &st);
	assert_true(st.cached_bytes <= 5 * MiB);
	rcl_heap_destroy(h);
}

/* rcl_bytes_repeat writes every byte of a large payload right, for units
 * smaller and larger than its fill block. */
static void test_repeat_large(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	static unsigned char big[100 * 1024 + 7];
	const char *unit = "0123456789abcdef";
	rcl_bytes *b;
	unsigned char *d;

	b = rcl_bytes_repeat(h, unit, 16, 3 * 64 * 1024 + 5);
	assert_non_null(b);
	d = rcl_bytes_data(b);
	for (size_t i = 0; i < rcl_bytes_len(b); i++)
		assert_int_equal(d[i], unit[i % 16]);
	rcl_decref(b);
	b = rcl_bytes_repeat(h, "abc", 3, 1000001);
	d = rcl_bytes_data(b);
	for (size_t i = 0; i < rcl_bytes_len(b); i++)
		assert_int_equal(d[i], "abc"[i % 3]);
	assert_int_equal(d[rcl_bytes_len(b)], 0);
	rcl_decref(b);
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (unsigned char)(i * 7);
	b = rcl_bytes_repeat(h, big, sizeof big, 13);
	d = rcl_bytes_data(b);
	for (size_t i = 0; i < rcl_bytes_len(b); i++)
		assert_int_equal(d[i], big[i % sizeof big]);
	rcl_decref(b);
	rcl_heap_destroy(h);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refuse_past_hard),
	    cmocka_unit_test(test_collect_before_refusing),
	    cmocka_unit_test(test_pace_past_soft),
	    cmocka_unit_test(test_incremental_past_soft),
	    cmocka_unit_test(test_no_limit_admits),
	    cmocka_unit_test(test_heaps_race),
	    cmocka_unit_test(test_budget),
	    cmocka_unit_test(test_budget_collects),
	    cmocka_unit_test(test_block_cache),
	    cmocka_unit_test(test_block_cache_bounds),
	    cmocka_unit_test(test_pool_pages_kept),
	    cmocka_unit_test(test_repeat_large),
	};

	return unit_run(argc, argv, tests);
}
