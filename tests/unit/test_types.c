/* Unit tests of the standard object types (lib/types/). */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <reclaim/reclaim.h>
#include <reclaim/types.h>
#include "unit.h"

/* An allocator that fails on demand: after `allow` more allocations when
 * armed, every allocation fails until disarmed. */
struct flaky {
	bool armed;
	size_t allow;
	size_t failures;
};

struct fixture {
	rcl_heap *h;
	struct flaky flaky;
};

/* Allocate through malloc unless the flaky allocator says no. */
static void *flaky_alloc(size_t size, void *ctx)
{
	struct flaky *f = ctx;

	if (f->armed) {
		if (f->allow == 0) {
			f->failures++;
			return NULL;
		}
		f->allow--;
	}
	return malloc(size);
}

/* Free what flaky_alloc gave. */
static void flaky_free(void *ptr, size_t size, void *ctx)
{
	free(ptr);
}

/* Make the next allocations fail, after allow of them succeed. */
static void fail_after(struct fixture *fx, size_t allow)
{
	fx->flaky.armed = true;
	fx->flaky.allow = allow;
	fx->flaky.failures = 0;
}

/* Let allocations succeed again. */
static void fail_never(struct fixture *fx)
{
	fx->flaky.armed = false;
}

/*
 * probe: a tracked object with one reference ("ref") that counts its frees,
 * to close cycles through the containers and see when they are freed.
 */
struct probe {
	void *ref;
};

static int probes_freed;

/* Visit ref. */
static void probe_traverse(void *self, rcl_visit_fn visit, void *arg)
{
	struct probe *p = self;

	if (p->ref != NULL)
		visit(p->ref, "ref", arg);
}

/* Drop ref. */
static void probe_clear(void *self)
{
	struct probe *p = self;
	void *ref = p->ref;

	p->ref = NULL;
	rcl_decref(ref);
}

/* Count the free. */
static void probe_destroy(void *self)
{
	probes_freed++;
}

static const rcl_type probe_type = {
    .name = "probe",
    .size = sizeof(struct probe),
    .traverse = probe_traverse,
    .clear = probe_clear,
    .destroy = probe_destroy,
};

/* A probe whose ref is value (increfed). */
static struct probe *probe_new(rcl_heap *h, void *value)
{
	struct probe *p = rcl_new(h, &probe_type);

	assert_non_null(p);
	rcl_incref(value);
	p->ref = value;
	return p;
}

/* A fresh heap with automatic collection off; with the flaky allocator
 * when flaky, else the default one (and so the library's small-object pool,
 * which a custom allocator turns off). */
static int fixture_new(void **state, bool flaky)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	rcl_config cfg;

	if (fx == NULL)
		return -1;
	rcl_config_init(&cfg);
	cfg.auto_collect = false;
	if (flaky) {
		cfg.allocator.alloc = flaky_alloc;
		cfg.allocator.free = flaky_free;
		cfg.allocator.ctx = &fx->flaky;
	}
	fx->h = rcl_heap_new(&cfg);
	if (fx->h == NULL) {
		free(fx);
		return -1;
	}
	probes_freed = 0;
	*state = fx;
	return 0;
}

/* A heap on the default allocator, as in production. */
static int setup(void **state)
{
	return fixture_new(state, false);
}

/* A heap whose allocations fail on demand. */
static int setup_flaky(void **state)
{
	return fixture_new(state, true);
}

/* Every test drops all it made: the heap must be empty and consistent. */
static int teardown(void **state)
{
	struct fixture *fx = *state;
	rcl_stats st;

	fail_never(fx);
	rcl_heap_stats(fx->h, &st);
	assert_true(rcl_heap_validate(fx->h));
	assert_int_equal(st.objects, 0);
	assert_int_equal(st.owned_bytes, 0);
	rcl_heap_destroy(fx->h);
	free(fx);
	return 0;
}

/* The heap's live objects. */
static size_t live_objects(rcl_heap *h)
{
	rcl_stats st;

	rcl_heap_stats(h, &st);
	return st.objects;
}

/* The heap's owned payload bytes. */
static size_t heap_owned(rcl_heap *h)
{
	rcl_stats st;

	rcl_heap_stats(h, &st);
	return st.owned_bytes;
}

/* What rcl_traverse reports: up to 16 edges with their field names. */
struct edges {
	size_t n;
	void *child[16];
	const char *field[16];
};

/* Record one edge. */
static void record_edge(void *child, const char *field, void *arg)
{
	struct edges *e = arg;

	if (e->n < 16) {
		e->child[e->n] = child;
		e->field[e->n] = field;
	}
	e->n++;
}

/* --- bytes ------------------------------------------------------------- */

/* Data is copied, NUL-ended, untracked, and counted while alive. */
static void test_bytes_copy(void **state)
{
	struct fixture *fx = *state;
	char src[] = "Hello, world";
	rcl_bytes *b = rcl_bytes_new(fx->h, src, 5);

	assert_non_null(b);
	src[0] = 'J';
	assert_int_equal(rcl_bytes_len(b), 5);
	assert_memory_equal(rcl_bytes_data(b), "Hello", 5);
	assert_int_equal(rcl_bytes_data(b)[5], '\0');
	assert_false(rcl_is_tracked(b));
	assert_string_equal(rcl_typeof(b)->name, "bytes");
	assert_true(rcl_owned_bytes(b) >= 5);
	assert_true(heap_owned(fx->h) >= 5);
	rcl_decref(b);
	assert_int_equal(heap_owned(fx->h), 0);
	assert_int_equal(live_objects(fx->h), 0);
}

/* NULL data gives zeros; an empty payload is valid. */
static void test_bytes_zero(void **state)
{
	struct fixture *fx = *state;
	rcl_bytes *b = rcl_bytes_new(fx->h, NULL, 4096);
	rcl_bytes *e = rcl_bytes_new(fx->h, NULL, 0);
	size_t i;

	assert_non_null(b);
	assert_non_null(e);
	for (i = 0; i < 4096; i++)
		assert_int_equal(rcl_bytes_data(b)[i], 0);
	assert_int_equal(rcl_bytes_len(e), 0);
	assert_non_null(rcl_bytes_data(e));
	rcl_decref(b);
	rcl_decref(e);
}

/* The write-up's megabyte_string * 20: 20 MiB, all written and counted. */
static void test_bytes_repeat(void **state)
{
	struct fixture *fx = *state;
	static const char unit[] = "0123456789abcdef";
	rcl_bytes *mb = rcl_bytes_repeat(fx->h, unit, 16, 64 * 1024);
	rcl_bytes *big;
	size_t i;

	assert_non_null(mb);
	assert_int_equal(rcl_bytes_len(mb), 1 << 20);
	big =
	    rcl_bytes_repeat(fx->h, rcl_bytes_data(mb), rcl_bytes_len(mb), 20);
	assert_non_null(big);
	assert_int_equal(rcl_bytes_len(big), 20 << 20);
	for (i = 0; i < rcl_bytes_len(big); i += 4093)
		assert_int_equal(rcl_bytes_data(big)[i], unit[i % 16]);
	assert_int_equal(rcl_bytes_data(big)[(20 << 20) - 1], 'f');
	assert_true(rcl_owned_bytes(big) >= (size_t)20 << 20);
	assert_true(heap_owned(fx->h) >= (size_t)21 << 20);
	rcl_decref(mb);
	rcl_decref(big);
	assert_int_equal(heap_owned(fx->h), 0);
}

/* Bad arguments are errors, not crashes. */
static void test_bytes_errors(void **state)
{
	struct fixture *fx = *state;
	rcl_bytes *b;

	errno = 0;
	assert_null(rcl_bytes_new(NULL, "x", 1));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(rcl_bytes_repeat(fx->h, NULL, 4, 2));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(rcl_bytes_repeat(fx->h, "ab", 2, SIZE_MAX / 2 + 1));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(rcl_bytes_new(fx->h, NULL, SIZE_MAX));
	assert_int_equal(errno, ENOMEM);
	assert_null(rcl_bytes_data(NULL));
	assert_int_equal(rcl_bytes_len(NULL), 0);
	b = rcl_bytes_repeat(fx->h, "ab", 2, 0);
	assert_non_null(b);
	assert_int_equal(rcl_bytes_len(b), 0);
	rcl_decref(b);
	assert_int_equal(live_objects(fx->h), 0);
}

/* A payload that cannot be allocated leaves no object behind. */
static void test_bytes_alloc_failure(void **state)
{
	struct fixture *fx = *state;

	fail_after(fx, 1); /* the object, not its payload */
	errno = 0;
	assert_null(rcl_bytes_new(fx->h, NULL, 1000));
	assert_int_equal(errno, ENOMEM);
	assert_true(fx->flaky.failures > 0);
	fail_never(fx);
	assert_int_equal(live_objects(fx->h), 0);
	assert_int_equal(heap_owned(fx->h), 0);
}

/* --- list -------------------------------------------------------------- */

/* Items keep their order, and each store is one reference. */
static void test_list_basics(void **state)
{
	struct fixture *fx = *state;
	rcl_list *l = rcl_list_new(fx->h, 0);
	rcl_bytes *a = rcl_bytes_new(fx->h, "a", 1);
	rcl_bytes *b = rcl_bytes_new(fx->h, "b", 1);
	void *popped;

	assert_non_null(l);
	assert_string_equal(rcl_typeof(l)->name, "list");
	assert_true(rcl_is_tracked(l));
	assert_int_equal(rcl_list_append(l, a), 0);
	assert_int_equal(rcl_list_append(l, b), 0);
	assert_int_equal(rcl_list_append(l, a), 0);
	assert_int_equal(rcl_list_append(l, NULL), 0);
	assert_int_equal(rcl_list_len(l), 4);
	assert_int_equal(rcl_refcount(a), 3);
	assert_int_equal(rcl_refcount(b), 2);
	assert_ptr_equal(rcl_list_get(l, 0), a);
	assert_ptr_equal(rcl_list_get(l, 1), b);
	assert_ptr_equal(rcl_list_get(l, 2), a);
	assert_null(rcl_list_get(l, 3));

	assert_int_equal(rcl_list_set(l, 2, b), 0);
	assert_int_equal(rcl_refcount(a), 2);
	assert_int_equal(rcl_refcount(b), 3);
	assert_int_equal(rcl_list_set(l, 3, b), 0);
	assert_int_equal(rcl_refcount(b), 4);

	popped = rcl_list_pop(l);
	assert_ptr_equal(popped, b);
	assert_int_equal(rcl_refcount(b), 4); /* the caller's now */
	rcl_decref(popped);
	assert_int_equal(rcl_list_len(l), 3);

	rcl_list_clear(l);
	assert_int_equal(rcl_list_len(l), 0);
	assert_int_equal(rcl_refcount(a), 1);
	assert_int_equal(rcl_refcount(b), 1);
	assert_int_equal(rcl_owned_bytes(l), 0);
	assert_int_equal(rcl_list_append(l, a), 0); /* usable after clear */
	rcl_decref(l);
	assert_int_equal(rcl_refcount(a), 1);
	rcl_decref(a);
	rcl_decref(b);
}

/* Growth keeps every item, and the array is counted, then released. */
static void test_list_growth_accounting(void **state)
{
	struct fixture *fx = *state;
	rcl_list *l = rcl_list_new(fx->h, 0);
	rcl_bytes *x = rcl_bytes_new(fx->h, "x", 1);
	rcl_bytes *y = rcl_bytes_new(fx->h, "y", 1);
	size_t i, before = heap_owned(fx->h);

	assert_non_null(l);
	assert_int_equal(rcl_owned_bytes(l), 0);
	for (i = 0; i < 10000; i++)
		assert_int_equal(rcl_list_append(l, i % 3 ? x : y), 0);
	assert_int_equal(rcl_list_len(l), 10000);
	for (i = 0; i < 10000; i++)
		assert_ptr_equal(rcl_list_get(l, i), i % 3 ? x : y);
	assert_int_equal(rcl_refcount(x) + rcl_refcount(y), 10002);
	assert_true(rcl_owned_bytes(l) >= 10000 * sizeof(void *));
	assert_int_equal(heap_owned(fx->h) - before, rcl_owned_bytes(l));
	rcl_decref(l);
	assert_int_equal(heap_owned(fx->h), before);
	assert_int_equal(rcl_refcount(x), 1);
	assert_int_equal(rcl_refcount(y), 1);
	rcl_decref(x);
	rcl_decref(y);

	l = rcl_list_new(fx->h, 100);
	assert_non_null(l);
	assert_true(rcl_owned_bytes(l) >= 100 * sizeof(void *));
	rcl_decref(l);
}

/* Out-of-range indexes and NULL lists are errors. */
static void test_list_errors(void **state)
{
	struct fixture *fx = *state;
	rcl_list *l = rcl_list_new(fx->h, 2);

	assert_non_null(l);
	errno = 0;
	assert_null(rcl_list_get(l, 0));
	assert_int_equal(errno, ERANGE);
	errno = 0;
	assert_int_equal(rcl_list_set(l, 0, l), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(rcl_refcount(l), 1);
	errno = 0;
	assert_null(rcl_list_pop(l));
	assert_int_equal(errno, ERANGE);
	errno = 0;
	assert_int_equal(rcl_list_append(NULL, l), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(rcl_refcount(l), 1);
	assert_null(rcl_list_get(NULL, 0));
	assert_int_equal(rcl_list_set(NULL, 0, NULL), -1);
	assert_null(rcl_list_pop(NULL));
	assert_int_equal(rcl_list_len(NULL), 0);
	rcl_list_clear(NULL);
	errno = 0;
	assert_null(rcl_list_new(NULL, 0));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(rcl_list_new(fx->h, SIZE_MAX));
	assert_int_equal(errno, ENOMEM);
	rcl_decref(l);
}

/* traverse reports each non-NULL item, in order, as "[]". */
static void test_list_traverse(void **state)
{
	struct fixture *fx = *state;
	rcl_list *l = rcl_list_new(fx->h, 0);
	rcl_cell *c = rcl_cell_new(fx->h, NULL);
	struct edges e = {0};

	assert_int_equal(rcl_list_append(l, c), 0);
	assert_int_equal(rcl_list_append(l, NULL), 0);
	assert_int_equal(rcl_list_append(l, l), 0);
	rcl_traverse(l, record_edge, &e);
	assert_int_equal(e.n, 2);
	assert_ptr_equal(e.child[0], c);
	assert_ptr_equal(e.child[1], l);
	assert_string_equal(e.field[0], "[]");
	assert_string_equal(e.field[1], "[]");
	rcl_list_clear(l);
	rcl_decref(l);
	rcl_decref(c);
}

/* A failed append changes nothing: length, items, item's refcount, bytes. */
static void test_list_alloc_failure(void **state)
{
	struct fixture *fx = *state;
	rcl_list *l = rcl_list_new(fx->h, 0);
	rcl_bytes *x = rcl_bytes_new(fx->h, "x", 1);
	size_t i, cap_full, owned;

	assert_non_null(l);
	assert_int_equal(rcl_list_append(l, x), 0);
	/* Fill to capacity: the next append must grow. */
	cap_full = rcl_owned_bytes(l) / sizeof(void *);
	while (rcl_list_len(l) < cap_full)
		assert_int_equal(rcl_list_append(l, x), 0);
	assert_int_equal(rcl_owned_bytes(l) / sizeof(void *), cap_full);
	owned = heap_owned(fx->h);

	fail_after(fx, 0);
	errno = 0;
	assert_int_equal(rcl_list_append(l, x), -1);
	assert_int_equal(errno, ENOMEM);
	assert_true(fx->flaky.failures > 0);
	fail_never(fx);
	assert_int_equal(rcl_list_len(l), cap_full);
	assert_int_equal(rcl_refcount(x), cap_full + 1);
	assert_int_equal(heap_owned(fx->h), owned);
	for (i = 0; i < cap_full; i++)
		assert_ptr_equal(rcl_list_get(l, i), x);
	assert_int_equal(rcl_list_append(l, x), 0); /* and works again */
	assert_int_equal(rcl_list_len(l), cap_full + 1);

	fail_after(fx, 0);
	errno = 0;
	assert_null(rcl_list_new(fx->h, 0));
	assert_int_equal(errno, ENOMEM);
	fail_after(fx, 1);
	assert_null(rcl_list_new(fx->h, 8)); /* the object, not the array */
	fail_never(fx);
	rcl_decref(l);
	rcl_decref(x);
}

/* --- map --------------------------------------------------------------- */

/* Keys are copied; set, replace, get and delete keep refcounts exact. */
static void test_map_basics(void **state)
{
	struct fixture *fx = *state;
	rcl_map *m = rcl_map_new(fx->h);
	rcl_bytes *a = rcl_bytes_new(fx->h, "a", 1);
	rcl_bytes *b = rcl_bytes_new(fx->h, "b", 1);
	char key[] = "runner";

	assert_non_null(m);
	assert_string_equal(rcl_typeof(m)->name, "map");
	assert_true(rcl_is_tracked(m));
	assert_int_equal(rcl_map_set(m, key, a), 0);
	key[0] = 'R';
	assert_ptr_equal(rcl_map_get(m, "runner"), a);
	errno = 0;
	assert_null(rcl_map_get(m, "Runner"));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(rcl_refcount(a), 2);
	assert_int_equal(rcl_map_set(m, "task", b), 0);
	assert_int_equal(rcl_map_set(m, "", NULL), 0);
	assert_int_equal(rcl_map_len(m), 3);
	assert_true(rcl_map_contains(m, ""));
	assert_null(rcl_map_get(m, ""));
	assert_false(rcl_map_contains(m, "x"));

	assert_int_equal(rcl_map_set(m, "runner", b), 0); /* replace */
	assert_int_equal(rcl_map_len(m), 3);
	assert_int_equal(rcl_refcount(a), 1);
	assert_int_equal(rcl_refcount(b), 3);
	assert_ptr_equal(rcl_map_get(m, "runner"), b);

	assert_int_equal(rcl_map_del(m, "task"), 0);
	assert_int_equal(rcl_refcount(b), 2);
	assert_false(rcl_map_contains(m, "task"));
	errno = 0;
	assert_int_equal(rcl_map_del(m, "task"), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(rcl_map_len(m), 2);

	rcl_map_clear(m);
	assert_int_equal(rcl_map_len(m), 0);
	assert_int_equal(rcl_refcount(b), 1);
	assert_int_equal(rcl_owned_bytes(m), 0);
	assert_int_equal(rcl_map_set(m, "again", a), 0);
	rcl_decref(m);
	assert_int_equal(rcl_refcount(a), 1);
	rcl_decref(a);
	rcl_decref(b);
}

/* Many keys, with deletes between, stay findable; keys and the table are
 * counted and released. */
static void test_map_many(void **state)
{
	struct fixture *fx = *state;
	rcl_map *m = rcl_map_new(fx->h);
	rcl_bytes *v[64];
	char key[32];
	size_t i, before;

	for (i = 0; i < 64; i++)
		v[i] = rcl_bytes_new(fx->h, NULL, 1);
	before = heap_owned(fx->h);
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "key-%zu", i);
		assert_int_equal(rcl_map_set(m, key, v[i % 64]), 0);
		if (i % 3 == 0) {
			snprintf(key, sizeof(key), "key-%zu", i / 2);
			rcl_map_del(m, key);
		}
	}
	/* Recompute the expected set independently. */
	{
		static bool present[5000];
		size_t n = 0, live = 0;

		memset(present, 0, sizeof(present));
		for (i = 0; i < 5000; i++) {
			present[i] = true;
			if (i % 3 == 0)
				present[i / 2] = false;
		}
		for (i = 0; i < 5000; i++) {
			snprintf(key, sizeof(key), "key-%zu", i);
			assert_int_equal(rcl_map_contains(m, key), present[i]);
			if (present[i]) {
				assert_ptr_equal(rcl_map_get(m, key),
						 v[i % 64]);
				live++;
			}
		}
		assert_int_equal(rcl_map_len(m), live);
		for (i = 0; i < 64; i++)
			n += rcl_refcount(v[i]) - 1;
		assert_int_equal(n, live);
	}
	assert_true(rcl_owned_bytes(m) > rcl_map_len(m) * 6);
	assert_int_equal(heap_owned(fx->h) - before, rcl_owned_bytes(m));
	rcl_decref(m);
	assert_int_equal(heap_owned(fx->h), before);
	for (i = 0; i < 64; i++) {
		assert_int_equal(rcl_refcount(v[i]), 1);
		rcl_decref(v[i]);
	}
}

/* Iteration returns each entry once; deleting the current one is allowed. */
static void test_map_iterate(void **state)
{
	struct fixture *fx = *state;
	rcl_map *m = rcl_map_new(fx->h);
	rcl_bytes *v = rcl_bytes_new(fx->h, NULL, 1);
	unsigned seen = 0;
	const char *k;
	void *val;
	size_t it = 0;
	char key[32];
	int i;

	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "%d", i);
		assert_int_equal(rcl_map_set(m, key, v), 0);
	}
	while (rcl_map_next(m, &it, &k, &val)) {
		int n = atoi(k);

		assert_ptr_equal(val, v);
		assert_false(seen & (1u << n));
		seen |= 1u << n;
		if (n % 2)
			assert_int_equal(rcl_map_del(m, k), 0);
	}
	assert_int_equal(seen, (1u << 20) - 1);
	assert_int_equal(rcl_map_len(m), 10);
	assert_int_equal(rcl_refcount(v), 11);
	it = 0;
	seen = 0;
	while (rcl_map_next(m, &it, &k, NULL))
		seen |= 1u << atoi(k);
	assert_int_equal(seen, 0x55555);
	assert_false(rcl_map_next(NULL, &it, &k, &val));
	assert_false(rcl_map_next(m, NULL, &k, &val));
	rcl_decref(m);
	rcl_decref(v);
}

/* traverse reports each value with its key as the field name. */
static void test_map_traverse(void **state)
{
	struct fixture *fx = *state;
	rcl_map *m = rcl_map_new(fx->h);
	rcl_cell *c = rcl_cell_new(fx->h, NULL);
	struct edges e = {0};

	assert_int_equal(rcl_map_set(m, "yield_point", c), 0);
	assert_int_equal(rcl_map_set(m, "nothing", NULL), 0);
	rcl_traverse(m, record_edge, &e);
	assert_int_equal(e.n, 1);
	assert_ptr_equal(e.child[0], c);
	assert_string_equal(e.field[0], "yield_point");
	rcl_decref(m);
	rcl_decref(c);
}

/* NULL maps and keys are errors. */
static void test_map_errors(void **state)
{
	struct fixture *fx = *state;
	rcl_map *m = rcl_map_new(fx->h);

	errno = 0;
	assert_int_equal(rcl_map_set(m, NULL, m), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(rcl_refcount(m), 1);
	assert_int_equal(rcl_map_set(NULL, "k", m), -1);
	assert_int_equal(rcl_refcount(m), 1);
	assert_null(rcl_map_get(NULL, "k"));
	assert_null(rcl_map_get(m, NULL));
	assert_false(rcl_map_contains(NULL, "k"));
	assert_int_equal(rcl_map_del(NULL, "k"), -1);
	assert_int_equal(rcl_map_del(m, NULL), -1);
	assert_int_equal(rcl_map_len(NULL), 0);
	rcl_map_clear(NULL);
	assert_null(rcl_map_new(NULL));
	rcl_decref(m);
}

/* A failed insert (key copy or table growth) changes nothing; replacing an
 * existing key needs no memory. */
static void test_map_alloc_failure(void **state)
{
	struct fixture *fx = *state;
	rcl_map *m = rcl_map_new(fx->h);
	rcl_bytes *v = rcl_bytes_new(fx->h, NULL, 1);
	size_t owned, n;
	char key[32];

	/* With a table in place, insert new keys letting only the key copy
	 * through: those that fit succeed, the first that needs a bigger table
	 * fails, and must leave everything as it was. */
	assert_int_equal(rcl_map_set(m, "k0", v), 0);
	for (n = 1;; n++) {
		size_t table = rcl_owned_bytes(m);

		snprintf(key, sizeof(key), "k%zu", n);
		owned = heap_owned(fx->h);
		fail_after(fx, 1);
		errno = 0;
		if (rcl_map_set(m, key, v) < 0)
			break;
		fail_never(fx);
		assert_int_equal(rcl_owned_bytes(m), table + strlen(key) + 1);
	}
	fail_never(fx);
	assert_int_equal(errno, ENOMEM);
	assert_true(fx->flaky.failures > 0);
	assert_true(n > 1);
	assert_int_equal(heap_owned(fx->h), owned);
	assert_int_equal(rcl_map_len(m), n);
	assert_int_equal(rcl_refcount(v), n + 1);
	assert_false(rcl_map_contains(m, key));

	fail_after(fx, 0); /* not even the key copy */
	assert_int_equal(rcl_map_set(m, key, v), -1);
	assert_int_equal(rcl_map_set(m, "k0", NULL),
			 0); /* replace: no memory */
	fail_never(fx);
	assert_int_equal(heap_owned(fx->h), owned);
	assert_int_equal(rcl_map_len(m), n);
	assert_int_equal(rcl_refcount(v), n);
	assert_null(rcl_map_get(m, "k0"));
	assert_int_equal(rcl_map_set(m, key, v), 0);
	assert_int_equal(rcl_map_len(m), n + 1);
	rcl_decref(m);
	assert_int_equal(rcl_refcount(v), 1);
	rcl_decref(v);
}

/* --- tuple ------------------------------------------------------------- */

/* A tuple's items start NULL; set increfs the new and decrefs the old. */
static void test_tuple_basics(void **state)
{
	struct fixture *fx = *state;
	rcl_tuple *t = rcl_tuple_new(fx->h, 3);
	rcl_tuple *empty = rcl_tuple_new(fx->h, 0);
	rcl_bytes *a = rcl_bytes_new(fx->h, "a", 1);
	struct edges e = {0};

	assert_non_null(t);
	assert_non_null(empty);
	assert_string_equal(rcl_typeof(t)->name, "tuple");
	assert_true(rcl_sizeof(t) >= 3 * sizeof(void *));
	assert_int_equal(rcl_tuple_len(t), 3);
	assert_int_equal(rcl_tuple_len(empty), 0);
	assert_null(rcl_tuple_get(t, 0));
	assert_int_equal(rcl_tuple_set(t, 1, a), 0);
	assert_int_equal(rcl_tuple_set(t, 2, a), 0);
	assert_int_equal(rcl_refcount(a), 3);
	assert_ptr_equal(rcl_tuple_get(t, 1), a);
	assert_int_equal(rcl_tuple_set(t, 2, NULL), 0);
	assert_int_equal(rcl_refcount(a), 2);
	rcl_traverse(t, record_edge, &e);
	assert_int_equal(e.n, 1);
	assert_ptr_equal(e.child[0], a);
	assert_string_equal(e.field[0], "[]");

	errno = 0;
	assert_int_equal(rcl_tuple_set(t, 3, a), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(rcl_refcount(a), 2);
	errno = 0;
	assert_null(rcl_tuple_get(t, 3));
	assert_int_equal(errno, ERANGE);
	assert_int_equal(rcl_tuple_set(NULL, 0, a), -1);
	assert_null(rcl_tuple_get(NULL, 0));
	assert_int_equal(rcl_tuple_len(NULL), 0);
	assert_null(rcl_tuple_new(NULL, 1));
	errno = 0;
	assert_null(rcl_tuple_new(fx->h, SIZE_MAX / 4));
	assert_int_equal(errno, ENOMEM);

	rcl_decref(t);
	assert_int_equal(rcl_refcount(a), 1);
	rcl_decref(a);
	rcl_decref(empty);
}

/* A tuple that cannot be allocated is NULL with ENOMEM, and nothing leaks. */
static void test_tuple_alloc_failure(void **state)
{
	struct fixture *fx = *state;

	fail_after(fx, 0);
	errno = 0;
	assert_null(rcl_tuple_new(fx->h, 4));
	assert_int_equal(errno, ENOMEM);
	fail_never(fx);
	assert_int_equal(live_objects(fx->h), 0);
}

/* --- cell -------------------------------------------------------------- */

/* A cell holds one reference, replaced by set. */
static void test_cell_basics(void **state)
{
	struct fixture *fx = *state;
	rcl_bytes *a = rcl_bytes_new(fx->h, "a", 1);
	rcl_bytes *b = rcl_bytes_new(fx->h, "b", 1);
	rcl_cell *c = rcl_cell_new(fx->h, a);
	struct edges e = {0};

	assert_non_null(c);
	assert_string_equal(rcl_typeof(c)->name, "cell");
	assert_ptr_equal(rcl_cell_get(c), a);
	assert_int_equal(rcl_refcount(a), 2);
	rcl_traverse(c, record_edge, &e);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.field[0], "contents");
	rcl_cell_set(c, b);
	assert_int_equal(rcl_refcount(a), 1);
	assert_int_equal(rcl_refcount(b), 2);
	assert_ptr_equal(rcl_cell_get(c), b);
	rcl_cell_set(c, b); /* the same value: still one reference */
	assert_int_equal(rcl_refcount(b), 2);
	rcl_cell_set(c, NULL);
	assert_int_equal(rcl_refcount(b), 1);
	assert_null(rcl_cell_get(c));
	rcl_cell_set(NULL, a);
	assert_int_equal(rcl_refcount(a), 1);
	errno = 0;
	assert_null(rcl_cell_get(NULL));
	assert_int_equal(errno, EINVAL);
	assert_null(rcl_cell_new(NULL, a));
	assert_int_equal(rcl_refcount(a), 1);
	rcl_decref(c);
	rcl_decref(a);
	rcl_decref(b);
}

/* --- closure ----------------------------------------------------------- */

/* Return the closure's first capture's contents plus arg, as a count. */
static void *add_fn(rcl_closure *self, void *arg)
{
	rcl_cell *counter = rcl_closure_captured(self, 0);
	intptr_t v = (intptr_t)rcl_cell_get(counter) + (intptr_t)arg;

	return (void *)v;
}

/* Drop the reference the caller handed in through arg. */
static void *drop_self_fn(rcl_closure *self, void *arg)
{
	rcl_decref(arg);
	return rcl_closure_captured(self, 0);
}

/* A closure calls its function with itself and arg, and holds captures. */
static void test_closure_basics(void **state)
{
	struct fixture *fx = *state;
	rcl_cell *cell = rcl_cell_new(fx->h, NULL);
	void *captured[2];
	rcl_closure *c;
	struct edges e = {0};

	captured[0] = cell;
	captured[1] = NULL;
	c = rcl_closure_new(fx->h, add_fn, 2, captured);
	assert_non_null(c);
	assert_string_equal(rcl_typeof(c)->name, "closure");
	assert_int_equal(rcl_refcount(cell), 2);
	assert_int_equal(rcl_closure_ncaptured(c), 2);
	assert_ptr_equal(rcl_closure_captured(c, 0), cell);
	assert_null(rcl_closure_captured(c, 1));
	errno = 0;
	assert_null(rcl_closure_captured(c, 2));
	assert_int_equal(errno, ERANGE);
	assert_int_equal((intptr_t)rcl_closure_call(c, (void *)(intptr_t)5), 5);
	rcl_traverse(c, record_edge, &e);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.field[0], "captured");
	errno = 0;
	assert_null(rcl_closure_call(NULL, NULL));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(rcl_closure_new(fx->h, NULL, 0, NULL));
	assert_int_equal(errno, EINVAL);
	assert_null(rcl_closure_new(fx->h, add_fn, 1, NULL));
	assert_null(rcl_closure_new(NULL, add_fn, 0, NULL));
	assert_int_equal(rcl_refcount(cell), 2);
	rcl_decref(c);
	assert_int_equal(rcl_refcount(cell), 1);

	/* The function may drop the last outside reference to its closure:
	 * the call holds one, and frees it after. */
	c = rcl_closure_new(fx->h, drop_self_fn, 1, captured);
	assert_ptr_equal(rcl_closure_call(c, c), cell);
	assert_int_equal(rcl_refcount(cell), 1);
	rcl_decref(cell);
}

/* A cell or closure that cannot be allocated takes no reference. */
static void test_cell_closure_alloc_failure(void **state)
{
	struct fixture *fx = *state;
	rcl_bytes *a = rcl_bytes_new(fx->h, "a", 1);
	void *captured[2] = {a, a};

	fail_after(fx, 0);
	errno = 0;
	assert_null(rcl_cell_new(fx->h, a));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(rcl_closure_new(fx->h, add_fn, 2, captured));
	assert_int_equal(errno, ENOMEM);
	assert_true(fx->flaky.failures >= 2);
	fail_never(fx);
	assert_int_equal(rcl_refcount(a), 1);
	assert_int_equal(live_objects(fx->h), 1);
	rcl_decref(a);
}

/* --- cycles and clear -------------------------------------------------- */

/* Given a cycle container -> probe -> container (objects in all, found of
 * them tracked), drop both and check the cycle lives until a collection and
 * is freed by it, with what hangs off it. */
static void check_cycle(struct fixture *fx, void *container, struct probe *p,
			size_t objects, size_t found)
{
	assert_int_equal(live_objects(fx->h), objects);
	rcl_decref(container);
	rcl_decref(p);
	assert_int_equal(probes_freed, 0);
	assert_int_equal(live_objects(fx->h), objects);
	assert_int_equal(rcl_collect(fx->h, 2), found);
	assert_int_equal(probes_freed, 1);
	assert_int_equal(live_objects(fx->h), 0);
	assert_int_equal(heap_owned(fx->h), 0);
}

/* list <-> probe. */
static void test_cycle_list(void **state)
{
	struct fixture *fx = *state;
	rcl_list *l = rcl_list_new(fx->h, 0);
	struct probe *p = probe_new(fx->h, l);

	assert_int_equal(rcl_list_append(l, p), 0);
	check_cycle(fx, l, p, 2, 2);
}

/* map <-> probe, with a payload hanging off the cycle. */
static void test_cycle_map(void **state)
{
	struct fixture *fx = *state;
	rcl_map *m = rcl_map_new(fx->h);
	struct probe *p = probe_new(fx->h, m);
	rcl_bytes *big = rcl_bytes_new(fx->h, NULL, 1 << 20);

	assert_int_equal(rcl_map_set(m, "task", p), 0);
	assert_int_equal(rcl_map_set(m, "bigdata", big), 0);
	rcl_decref(big);
	check_cycle(fx, m, p, 3, 2); /* bytes is untracked */
}

/* tuple <-> probe. */
static void test_cycle_tuple(void **state)
{
	struct fixture *fx = *state;
	rcl_tuple *t = rcl_tuple_new(fx->h, 2);
	struct probe *p = probe_new(fx->h, t);

	assert_int_equal(rcl_tuple_set(t, 1, p), 0);
	check_cycle(fx, t, p, 2, 2);
}

/* cell <-> probe. */
static void test_cycle_cell(void **state)
{
	struct fixture *fx = *state;
	rcl_cell *c = rcl_cell_new(fx->h, NULL);
	struct probe *p = probe_new(fx->h, c);

	rcl_cell_set(c, p);
	check_cycle(fx, c, p, 2, 2);
}

/* closure -> probe -> closure: a function that captures itself. */
static void test_cycle_closure(void **state)
{
	struct fixture *fx = *state;
	struct probe *p = probe_new(fx->h, NULL);
	void *captured[1] = {p};
	rcl_closure *c = rcl_closure_new(fx->h, add_fn, 1, captured);

	assert_non_null(c);
	rcl_incref(c);
	p->ref = c;
	check_cycle(fx, c, p, 2, 2);
}

/* A cycle reachable from outside survives a collection. */
static void test_cycle_reachable_survives(void **state)
{
	struct fixture *fx = *state;
	rcl_list *root = rcl_list_new(fx->h, 0);
	rcl_map *m = rcl_map_new(fx->h);
	struct probe *p = probe_new(fx->h, m);

	assert_int_equal(rcl_map_set(m, "p", p), 0);
	assert_int_equal(rcl_list_append(root, m), 0);
	rcl_decref(m);
	rcl_decref(p);
	assert_int_equal(rcl_collect(fx->h, 2), 0);
	assert_int_equal(probes_freed, 0);
	assert_ptr_equal(rcl_map_get(rcl_list_get(root, 0), "p"), p);
	rcl_decref(root);
	assert_int_equal(rcl_collect(fx->h, 2), 2);
	assert_int_equal(probes_freed, 1);
}

/* Each type's clear drops its references exactly once, however often it
 * runs (the collector calls it, then the free does). */
static void test_clear_idempotent(void **state)
{
	struct fixture *fx = *state;
	rcl_bytes *x = rcl_bytes_new(fx->h, "x", 1);
	rcl_list *l = rcl_list_new(fx->h, 0);
	rcl_map *m = rcl_map_new(fx->h);
	rcl_tuple *t = rcl_tuple_new(fx->h, 2);
	rcl_cell *c = rcl_cell_new(fx->h, x);
	void *captured[2] = {x, x};
	rcl_closure *f = rcl_closure_new(fx->h, add_fn, 2, captured);
	void *objs[5];
	int i;

	assert_int_equal(rcl_list_append(l, x), 0);
	assert_int_equal(rcl_list_append(l, x), 0);
	assert_int_equal(rcl_map_set(m, "a", x), 0);
	assert_int_equal(rcl_map_set(m, "b", x), 0);
	assert_int_equal(rcl_tuple_set(t, 0, x), 0);
	assert_int_equal(rcl_tuple_set(t, 1, x), 0);
	assert_int_equal(rcl_refcount(x), 10);
	objs[0] = l;
	objs[1] = m;
	objs[2] = t;
	objs[3] = c;
	objs[4] = f;
	for (i = 0; i < 5; i++) {
		const rcl_type *type = rcl_typeof(objs[i]);
		size_t before = rcl_refcount(x);
		struct edges e = {0};

		if (type->clear != NULL) /* the type's own clear */
			type->clear(objs[i]);
		else
			rcl_clear(objs[i]); /* described: the derived one */
		assert_true(rcl_refcount(x) < before);
		before = rcl_refcount(x);
		rcl_clear(objs[i]);
		assert_int_equal(rcl_refcount(x), before);
		rcl_traverse(objs[i], record_edge, &e);
		assert_int_equal(e.n, 0);
		/* the map gives back its table; the list keeps its array (for
		 * items stored later) until destroy */
		if (objs[i] != l)
			assert_int_equal(rcl_owned_bytes(objs[i]), 0);
		rcl_decref(objs[i]);
	}
	assert_int_equal(rcl_refcount(x), 1);
	rcl_decref(x);
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define FAILURE_TEST(fn)                                                       \
	cmocka_unit_test_setup_teardown(fn, setup_flaky, teardown)

/* The behaviour tests, one a line; main() runs them on both allocators. */
/* clang-format off */
static const struct CMUnitTest behaviour[] = {
	TEST(test_bytes_copy),
	TEST(test_bytes_zero),
	TEST(test_bytes_repeat),
	TEST(test_bytes_errors),
	TEST(test_list_basics),
	TEST(test_list_growth_accounting),
	TEST(test_list_errors),
	TEST(test_list_traverse),
	TEST(test_map_basics),
	TEST(test_map_many),
	TEST(test_map_iterate),
	TEST(test_map_traverse),
	TEST(test_map_errors),
	TEST(test_tuple_basics),
	TEST(test_cell_basics),
	TEST(test_closure_basics),
	TEST(test_cycle_list),
	TEST(test_cycle_map),
	TEST(test_cycle_tuple),
	TEST(test_cycle_cell),
	TEST(test_cycle_closure),
	TEST(test_cycle_reachable_survives),
	TEST(test_clear_idempotent),
};

static const struct CMUnitTest failures[] = {
	FAILURE_TEST(test_bytes_alloc_failure),
	FAILURE_TEST(test_list_alloc_failure),
	FAILURE_TEST(test_map_alloc_failure),
	FAILURE_TEST(test_tuple_alloc_failure),
	FAILURE_TEST(test_cell_closure_alloc_failure),
};
/* clang-format on */

#define NBEHAVIOUR (sizeof(behaviour) / sizeof(behaviour[0]))

/* Every behaviour on the default allocator (the small-object pool), then
 * again on the flaky one, followed by the allocation failure tests. */
int main(int argc, char **argv)
{
	struct CMUnitTest flaky[NBEHAVIOUR];
	size_t i;
	int failed = 0;

	if (unit_args(argc, argv) != 0)
		return 2;
	for (i = 0; i < NBEHAVIOUR; i++) {
		flaky[i] = behaviour[i];
		flaky[i].setup_func = setup_flaky;
	}
	failed += cmocka_run_group_tests_name("default allocator", behaviour,
					      NULL, NULL);
	failed +=
	    cmocka_run_group_tests_name("failing allocator", flaky, NULL, NULL);
	failed += cmocka_run_group_tests_name("allocation failure", failures,
					      NULL, NULL);
	return failed;
}
