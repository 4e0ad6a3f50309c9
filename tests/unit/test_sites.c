/* Allocation sites and labels (lib/sites.c): what is recorded, counted,
 * bounded and forgotten. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <reclaim/types.h>

#include "testobj.h"
#include "unit.h"

/* A type with no references and no callbacks: freed on rcl_dealloc()'s
 * inline path when not recorded. */
static const rcl_type plain_type = {.name = "Plain", .size = 24};

/* True if s is site's file ("...test_sites.c"), line and function. */
static bool site_is(const rcl_site *s, unsigned line, const char *func)
{
	size_t n = s ? strlen(s->file) : 0;

	return s != NULL && n >= 12 &&
	       strcmp(s->file + n - 12, "test_sites.c") == 0 &&
	       s->line == line && strcmp(s->func, func) == 0;
}

/* Each object names the line of its rcl_new() and the label then. */
static void test_site_and_label(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	const rcl_site *site;
	const char *label;
	unsigned line_a, line_b;
	node *a, *b;
	void *p;

	(void)state;
	p = rcl_new(h, &plain_type); /* before: not recorded */
	assert_false(rcl_object_site(p, &site, &label));
	assert_int_equal(rcl_heap_record_sites(h, 100), 0);
	rcl_heap_set_label(h, "/seed/leaky");
	line_a = __LINE__ + 1;
	a = rcl_new(h, &node_type);
	assert_ptr_equal(rcl_heap_set_label(h, NULL), "/seed/leaky");
	line_b = __LINE__ + 1;
	b = rcl_new_var(h, &node_type, 256);
	assert_true(rcl_object_site(a, &site, &label));
	assert_true(site_is(site, line_a, "test_site_and_label"));
	assert_string_equal(label, "/seed/leaky");
	assert_true(rcl_object_site(b, &site, &label));
	assert_true(site_is(site, line_b, "test_site_and_label"));
	assert_null(label);
	rcl_decref(a);
	rcl_decref(b);
	rcl_decref(p);
	assert_true(rcl_heap_validate(h));
	rcl_heap_destroy(h);
}

/* The plain functions record no site, only the label. */
static void test_plain_function(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	const rcl_site *site = (const rcl_site *)1;
	const char *label;
	void *p;

	(void)state;
	assert_int_equal(rcl_heap_record_sites(h, 100), 0);
	rcl_heap_set_label(h, "tree");
	p = (rcl_new)(h, &plain_type);
	assert_true(rcl_object_site(p, &site, &label));
	assert_null(site);
	assert_string_equal(label, "tree");
	rcl_decref(p);
	rcl_heap_destroy(h);
}

/* Census by site counts the live objects, and loses each one freed, by
 * reference counting or by the collector. */
static void test_census_by_site(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	rcl_site_census c[8];
	node *x[10], *a, *b;
	int i;

	(void)state;
	assert_int_equal(rcl_heap_record_sites(h, 1000), 0);
	for (i = 0; i < 10; i++)
		x[i] = rcl_new(h, &plain_type);
	a = rcl_new(h, &node_type);
	b = rcl_new(h, &node_type);
	node_set(a, 0, b);
	node_set(b, 0, a);
	rcl_decref(a);
	rcl_decref(b); /* a cycle: the collector's */
	assert_int_equal(rcl_heap_site_census(h, c, 8), 3);
	for (i = 0; i < 3; i++) {
		if (c[i].type == &plain_type) {
			assert_int_equal(c[i].objects, 10);
			assert_true(c[i].bytes >= 10 * (24 + RCL_HEAD_BYTES));
		} else {
			assert_int_equal(c[i].objects, 1);
		}
	}
	for (i = 0; i < 5; i++)
		rcl_decref(x[i]);
	assert_int_equal(rcl_collect(h, 2), 2);
	assert_int_equal(rcl_heap_site_census(h, c, 8), 1);
	assert_int_equal(c[0].objects, 5);
	assert_true(rcl_heap_validate(h));
	for (i = 5; i < 10; i++)
		rcl_decref(x[i]);
	assert_int_equal(rcl_heap_site_census(h, c, 8), 0);
	rcl_heap_destroy(h);
}

/* At most max_objects are recorded; the rest are counted, not recorded;
 * the memory is in the info while on, and none is left once off. */
static void test_bounded_and_off(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	rcl_sites_info info;
	void *p[5];
	int i;

	(void)state;
	rcl_heap_sites_info(h, &info);
	assert_false(info.on);
	assert_int_equal(info.bytes, 0);
	assert_int_equal(rcl_heap_record_sites(h, 3), 0);
	for (i = 0; i < 5; i++)
		p[i] = rcl_new(h, &plain_type);
	rcl_heap_sites_info(h, &info);
	assert_true(info.on);
	assert_int_equal(info.max_objects, 3);
	assert_int_equal(info.objects, 3);
	assert_int_equal(info.sites, 1);
	assert_int_equal(info.unrecorded_total, 2);
	assert_true(info.bytes > 0);
	assert_true(rcl_object_site(p[2], NULL, NULL));
	assert_false(rcl_object_site(p[3], NULL, NULL));
	assert_int_equal(rcl_heap_record_sites(h, 0), 0);
	rcl_heap_sites_info(h, &info);
	assert_false(info.on);
	assert_int_equal(info.objects, 0);
	assert_int_equal(info.bytes, 0);
	assert_false(rcl_object_site(p[0], NULL, NULL));
	for (i = 0; i < 5; i++)
		rcl_decref(p[i]); /* the inline free again */
	assert_true(rcl_heap_validate(h));
	rcl_heap_destroy(h);
}

/* Objects still recorded when the heap is destroyed are freed with it
 * (ASan checks nothing leaks). */
static void test_destroy_while_recording(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	node *a;

	(void)state;
	assert_int_equal(rcl_heap_record_sites(h, 10), 0);
	a = rcl_new(h, &node_type);
	node_set(a, 0, a);
	(void)rcl_new(h, &plain_type);
	rcl_heap_destroy(h);
}

/* An allocator that fails once its calls_left of calls is spent. */
static long calls_left;

static void *tight_alloc(size_t size, void *ctx)
{
	(void)ctx;
	return calls_left-- > 0 ? malloc(size) : NULL;
}

static void tight_free(void *p, size_t size, void *ctx)
{
	(void)size;
	(void)ctx;
	free(p);
}

/* Out of memory: turning recording on fails with ENOMEM and leaves it
 * off; once on, an object whose record cannot be made is made anyway,
 * counted unrecorded. The heap stays whole either way. */
static void test_out_of_memory(void **state)
{
	rcl_config cfg;
	rcl_sites_info info;
	rcl_heap *h;
	void *p[8], *q;
	long n;

	(void)state;
	rcl_config_init(&cfg);
	cfg.allocator = (rcl_allocator){tight_alloc, tight_free, NULL};
	for (n = 0; n < 3; n++) { /* the record takes 3 allocations */
		calls_left = 1 << 20;
		h = rcl_heap_new(&cfg);
		calls_left = n;
		assert_int_equal(rcl_heap_record_sites(h, 100), -1);
		assert_int_equal(errno, ENOMEM);
		rcl_heap_sites_info(h, &info);
		assert_false(info.on);
		calls_left = 1 << 20;
		assert_true(rcl_heap_validate(h));
		rcl_heap_destroy(h);
	}
	calls_left = 1 << 20;
	h = rcl_heap_new(&cfg);
	assert_int_equal(rcl_heap_record_sites(h, 100), 0);
	for (n = 0; n < 8; n++)
		p[n] = rcl_new(h, &plain_type); /* the map's 16 slots, full */
	calls_left = 1;			       /* a block, not a larger map */
	q = rcl_new(h, &plain_type);
	calls_left = 1 << 20;
	assert_non_null(q);
	assert_false(rcl_object_site(q, NULL, NULL));
	rcl_heap_sites_info(h, &info);
	assert_int_equal(info.objects, 8);
	assert_int_equal(info.unrecorded_total, 1);
	rcl_decref(q);
	for (n = 0; n < 8; n++)
		rcl_decref(p[n]);
	assert_true(rcl_heap_validate(h));
	rcl_heap_destroy(h);
}

/* The standard types' constructors name their caller's line, not the
 * library's; the macros pass arguments with commas (compound literals)
 * through whole. */
static void test_types_and_commas(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	const rcl_site *site;
	unsigned line;
	rcl_bytes *b;
	rcl_tuple *t;
	void *p;

	(void)state;
	assert_int_equal(rcl_heap_record_sites(h, 100), 0);
	line = __LINE__ + 1;
	b = rcl_bytes_repeat(h, "ab", 2, 3);
	assert_true(rcl_object_site(b, &site, NULL));
	assert_true(site_is(site, line, "test_types_and_commas"));
	line = __LINE__ + 1;
	t = rcl_tuple_new(h, 2);
	assert_true(rcl_object_site(t, &site, NULL));
	assert_true(site_is(site, line, "test_types_and_commas"));
	line = __LINE__ + 1;
	p = rcl_new(h, &(const rcl_type){.name = "Lit", .size = 16});
	assert_true(rcl_object_site(p, &site, NULL));
	assert_true(site_is(site, line, "test_types_and_commas"));
	rcl_decref(p);
	rcl_decref(t);
	rcl_decref(b);
	rcl_heap_destroy(h);
}

/* Sum of the census by site's objects. */
static size_t census_objects(rcl_heap *h)
{
	rcl_site_census c[64];
	size_t n = rcl_heap_site_census(h, c, 64), sum = 0;

	assert_true(n <= 64);
	for (size_t i = 0; i < n; i++)
		sum += c[i].objects;
	return sum;
}

/* Random work on a heap while recording turns on and off: objects freed
 * by every path (the inline free, the chain, the collector, destroy, big
 * blocks, owned payloads, weak references, heap destruction) leave the
 * record consistent: its census sums to its recorded objects, and the
 * heap validates. */
static void test_random(void **state)
{
	static const rcl_type big_type = {.name = "Big"};
	rcl_heap *h = rcl_heap_new(NULL);
	rcl_sites_info info;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	node *live[64] = {0};
	rcl_weakref *weak[8] = {0};
	int step, i, j;

	(void)state;
	for (step = 0; step < 20000; step++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		i = (int)(x % 64);
		j = (int)((x >> 8) % 64);
		switch ((x >> 16) % 10) {
		case 0:
			rcl_heap_record_sites(h, (x >> 24) % 3 ? 40 : 0);
			break;
		case 1:
			rcl_decref(live[i]);
			live[i] = rcl_new(h, &node_type);
			if (live[i] && (x >> 30) % 4 == 0) {
				live[i]->payload_size = 100;
				live[i]->payload = rcl_owned_alloc(live[i], 100);
			}
			break;
		case 2:
			rcl_decref(live[i]);
			live[i] = (x >> 30) % 2
				      ? rcl_new(h, &plain_type)
				      : rcl_new_var(h, &big_type, 300 << 10);
			break;
		case 3:
			if (live[i] && live[j] && rcl_typeof(live[i]) ==
							 &node_type)
				node_set(live[i], (int)((x >> 40) % 4),
					 live[j]);
			break;
		case 4:
			rcl_decref(live[i]);
			live[i] = NULL;
			break;
		case 5:
			if (live[i] && rcl_weakref_alive(weak[j % 8]) == false) {
				rcl_decref(weak[j % 8]);
				weak[j % 8] = rcl_weakref_new(live[i], NULL,
							      NULL);
			}
			break;
		case 6:
			rcl_collect(h, (int)((x >> 24) % 3));
			break;
		default:
			rcl_heap_set_label(h, (x >> 24) % 2 ? "a" : NULL);
			break;
		}
		rcl_heap_sites_info(h, &info);
		assert_int_equal(census_objects(h), info.objects);
		assert_true(info.objects <= 40);
		if (step % 1000 == 0)
			assert_true(rcl_heap_validate(h));
	}
	assert_true(rcl_heap_validate(h));
	for (i = 0; i < 8; i++)
		rcl_decref(weak[i]);
	for (i = 0; i < 32; i++)
		rcl_decref(live[i]); /* the rest go with the heap */
	rcl_collect(h, 2);
	rcl_heap_sites_info(h, &info);
	assert_int_equal(census_objects(h), info.objects);
	rcl_heap_destroy(h);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_site_and_label),
	    cmocka_unit_test(test_plain_function),
	    cmocka_unit_test(test_census_by_site),
	    cmocka_unit_test(test_bounded_and_off),
	    cmocka_unit_test(test_destroy_while_recording),
	    cmocka_unit_test(test_out_of_memory),
	    cmocka_unit_test(test_random),
	    cmocka_unit_test(test_types_and_commas),
	};

	return unit_run(argc, argv, tests);
}
