/* The hooks for heaps the watchdog's thread owns (lib/watchdog/heaps.c). */
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

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_heap_hooks),
	    cmocka_unit_test(test_heaps_census_at_full),
	};

	return unit_run(argc, argv, tests);
}
