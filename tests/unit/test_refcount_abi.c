/*
 * The inline reference counting of <reclaim/heap.h> and the exported
 * functions work on the same count: this file uses the inline ones, and
 * test_refcount_abi_ext.c (built with RCL_NO_INLINE_REFCOUNT) the exported
 * ones. Both are built with -fgnu89-inline, under which a plain C99
 * `inline` in a header is defined in every file that includes it: the
 * header must not break such a program at link time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <reclaim/reclaim.h>
#include "unit.h"

void ext_incref(void *obj);
void ext_decref(void *obj);

static int destroyed;

static void probe_destroy(void *self)
{
	(void)self;
	destroyed++;
}

static const rcl_type probe = {
    .name = "probe",
    .size = 16,
    .destroy = probe_destroy,
};

static void test_inline_and_exported_share_the_count(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	void *o;

	(void)state;
	assert_non_null(h);
	o = rcl_new(h, &probe);
	assert_non_null(o);
	rcl_incref(o);     /* inline: 2 */
	ext_incref(o);     /* exported: 3 */
	assert_int_equal(rcl_refcount(o), 3);
	ext_decref(o);     /* 2 */
	rcl_decref(o);     /* 1 */
	assert_int_equal(rcl_refcount(o), 1);
	assert_int_equal(destroyed, 0);
	ext_decref(o);     /* the exported one frees at zero */
	assert_int_equal(destroyed, 1);
	o = rcl_new(h, &probe);
	rcl_decref(o);     /* and so does the inline one */
	assert_int_equal(destroyed, 2);
	rcl_incref(NULL);  /* both take NULL */
	rcl_decref(NULL);
	ext_incref(NULL);
	ext_decref(NULL);
	rcl_heap_destroy(h);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_inline_and_exported_share_the_count),
	};

	return unit_run(argc, argv, tests);
}
