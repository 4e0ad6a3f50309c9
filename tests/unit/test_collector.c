/* Collector rules: cycles, generations, pacing, finalizers, weak references,
 * freeze, the observer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <reclaim/types.h>

#include "testobj.h"
#include "unit.h"

static rcl_heap *heap_with(size_t t0, size_t t1, size_t t2, size_t young)
{
	rcl_config cfg;

	rcl_config_init(&cfg);
	cfg.thresholds[0] = t0;
	cfg.thresholds[1] = t1;
	cfg.thresholds[2] = t2;
	cfg.young_bytes = young;
	return rcl_heap_new(&cfg);
}

static rcl_stats stats(rcl_heap *h)
{
	rcl_stats st;

	rcl_heap_stats(h, &st);
	return st;
}

/* A two-object cycle a <-> b with no outside reference. */
static node *make_cycle(rcl_heap *h, const rcl_type *t, int *destroyed)
{
	node *a = rcl_new(h, t), *b = rcl_new(h, t);

	a->destroyed = b->destroyed = destroyed;
	node_set(a, 0, b);
	node_set(b, 1, a);
	rcl_decref(b);
	return a; /* the caller holds a */
}

/* A cycle is freed by collection, and not before. */
static void test_cycle_freed_by_collection(void **state)
{
	rcl_heap *h = heap_with(700, 10, 10, 0);
	int destroyed = 0;
	node *a = make_cycle(h, &node_type, &destroyed);

	(void)state;
	assert_int_equal(rcl_collect(h, 0), 0); /* still held */
	assert_int_equal(destroyed, 0);
	rcl_decref(a);
	assert_int_equal(destroyed, 0); /* refcounting cannot free it */
	assert_int_equal(stats(h).objects, 2);
	assert_int_equal(rcl_collect(h, 2), 2);
	assert_int_equal(destroyed, 2);
	assert_int_equal(stats(h).objects, 0);
	assert_int_equal(stats(h).collected_total, 2);
	assert_int_equal(stats(h).freed_by_gc_total, 2);
	assert_true(rcl_heap_validate(h));
	rcl_heap_destroy(h);
}

/* An object reachable from a live one survives, however deep. */
static void test_reachable_survives(void **state)
{
	rcl_heap *h = heap_with(700, 10, 10, 0);
	int destroyed = 0;
	node *root = rcl_new(h, &node_type), *cur = root;

	(void)state;
	for (int i = 0; i < 100; i++) {
		node *n = rcl_new(h, &node_type);

		n->destroyed = &destroyed;
		node_set(n, 1, root); /* back edges: every node is in a cycle */
		cur->f[0] = n;
		cur = n;
	}
	assert_int_equal(rcl_collect(h, 2), 0);
	assert_int_equal(destroyed, 0);
	rcl_decref(root);
	assert_int_equal(rcl_collect(h, 2), 101);
	assert_int_equal(destroyed, 100);
	rcl_heap_destroy(h);
}

/*
 * The mark stops once it has met every member with a reference from
 * outside: here the only such member is the last one allocated, and all it
 * reaches was allocated before it, among garbage cycles before and after.
 */
static void test_last_member_only_root(void **state)
{
	rcl_heap *h = heap_with(0, 10, 10, 0);
	int kept = 0, dropped = 0;
	node *first = NULL, *prev = NULL, *root;

	(void)state;
	for (int i = 0; i < 50; i++) {
		rcl_decref(make_cycle(h, &node_type, &dropped)); /* garbage */
		node *n = rcl_new(h, &node_type);

		n->destroyed = &kept;
		if (prev) {
			node_set(prev, 0, n);
			node_set(n, 1, first); /* a back edge: all in one cycle */
			rcl_decref(n);
		} else {
			first = n; /* held until root takes it */
		}
		prev = n;
	}
	root = rcl_new(h, &node_type); /* last, and the only root */
	root->destroyed = &kept;
	node_set(root, 0, first);
	rcl_decref(first);
	rcl_decref(make_cycle(h, &node_type, &dropped)); /* garbage after it */
	assert_int_equal(rcl_collect(h, 0), 102);
	assert_int_equal(dropped, 102);
	assert_int_equal(kept, 0);
	assert_int_equal(stats(h).objects, 51);
	assert_true(rcl_heap_validate(h));
	rcl_decref(root); /* freed at once; the cycle it held is garbage */
	assert_int_equal(kept, 1);
	assert_int_equal(rcl_collect(h, 2), 50);
	assert_int_equal(kept, 51);
	rcl_heap_destroy(h);
}

/* Survivors move up one generation per collection. */
static void test_promotion(void **state)
{
	rcl_heap *h = heap_with(700, 10, 10, 0);
	node *a = rcl_new(h, &node_type);

	(void)state;
	assert_int_equal(stats(h).gen[0].objects, 1);
	rcl_collect(h, 0);
	assert_int_equal(stats(h).gen[0].objects, 0);
	assert_int_equal(stats(h).gen[1].objects, 1);
	rcl_collect(h, 0); /* gen 0 only: a stays in gen 1 */
	assert_int_equal(stats(h).gen[1].objects, 1);
	rcl_collect(h, 1);
	assert_int_equal(stats(h).gen[2].objects, 1);
	rcl_collect(h, 2);
	assert_int_equal(stats(h).gen[2].objects, 1);
	assert_int_equal(stats(h).gen[0].collections, 2);
	assert_int_equal(stats(h).gen[1].collections, 1);
	assert_int_equal(stats(h).gen[2].collections, 1);
	/* garbage promoted to gen 1 is not found by a gen 0 collection */
	int destroyed = 0;
	node *c = make_cycle(h, &node_type, &destroyed);
	rcl_collect(h, 0);
	rcl_decref(c);
	assert_int_equal(rcl_collect(h, 0), 0);
	assert_int_equal(rcl_collect(h, 1), 2);
	assert_int_equal(destroyed, 2);
	rcl_decref(a);
	rcl_heap_destroy(h);
}

/* Count threshold: gen 0 is collected when allocations minus frees exceed
 * the threshold, not before; gen 1 after thresholds[1] gen 0 collections. */
static void test_count_thresholds(void **state)
{
	rcl_heap *h = heap_with(10, 2, 10, 0);
	node *keep[60];
	rcl_stats st;

	(void)state;
	for (int i = 0; i < 10; i++)
		keep[i] = rcl_new(h, &node_type);
	assert_int_equal(stats(h).collections_total, 0);
	assert_int_equal(stats(h).gen[0].count, 10);
	/* freeing lowers the count, as CPython's does */
	rcl_decref(keep[9]);
	keep[9] = rcl_new(h, &node_type);
	assert_int_equal(stats(h).collections_total, 0);
	keep[10] = rcl_new(h, &node_type); /* count 11 > 10 */
	st = stats(h);
	assert_int_equal(st.collections_total, 1);
	assert_int_equal(st.gen[0].collections, 1);
	assert_int_equal(st.collections_by_count_total, 1);
	assert_int_equal(st.gen[1].count, 1);
	/* as in CPython, the collection resets the count the new object
	 * had just raised */
	assert_int_equal(st.gen[0].count, 0);
	/* two more gen 0 collections, at the 11th and 22nd allocations */
	for (int i = 11; i < 33; i++)
		keep[i] = rcl_new(h, &node_type);
	st = stats(h);
	assert_int_equal(st.gen[0].collections, 3);
	assert_int_equal(st.gen[1].collections, 0);
	assert_int_equal(st.gen[1].count, 3);
	/* the next one finds gen 1's count (3) over its threshold (2) */
	for (int i = 33; i < 44; i++)
		keep[i] = rcl_new(h, &node_type);
	st = stats(h);
	assert_int_equal(st.gen[0].collections, 3);
	assert_int_equal(st.gen[1].collections, 1);
	assert_int_equal(st.gen[1].count, 0);
	assert_int_equal(st.gen[2].count, 1);
	assert_int_equal(st.gen[2].objects, 43);
	for (int i = 0; i < 44; i++)
		rcl_decref(keep[i]);
	/* disabled: no automatic collection whatever the count */
	rcl_auto_collect(h, false);
	uint64_t before = stats(h).collections_total;
	for (int i = 0; i < 60; i++)
		keep[i] = rcl_new(h, &node_type);
	assert_int_equal(stats(h).collections_total, before);
	for (int i = 0; i < 60; i++)
		rcl_decref(keep[i]);
	rcl_heap_destroy(h);
}

/*
 * Long-lived heuristic: gen 2 is collected only when the objects promoted to
 * it since the last full collection exceed 25% of the long-lived ones.
 */
static void test_long_lived_heuristic(void **state)
{
	rcl_heap *h = heap_with(1, 1, 0, 0);
	node *old[400], *young[120];
	uint64_t full;

	(void)state;
	rcl_auto_collect(h, false);
	for (int i = 0; i < 400; i++)
		old[i] = rcl_new(h, &node_type);
	rcl_collect(h, 2); /* 400 long-lived objects */
	full = stats(h).gen[2].collections;
	rcl_auto_collect(h, true);
	/* thresholds 1,1,0: every other allocation collects gen 0, every
	 * other gen 0 collection collects gen 1, and gen 2 is due at once by
	 * count but waits until more than 100 objects are pending */
	int n = 0;
	while (stats(h).gen[2].collections == full) {
		assert_true(n < 120);
		young[n++] = rcl_new(h, &node_type);
	}
	assert_true(n > 100);
	assert_true(n < 110);
	for (int i = 0; i < n; i++)
		rcl_decref(young[i]);
	for (int i = 0; i < 400; i++)
		rcl_decref(old[i]);
	rcl_heap_destroy(h);
}

/*
 * Byte trigger: with count pacing off, gen 0 is collected when the bytes
 * allocated since its last collection would pass young_bytes, before the
 * memory is taken, so earlier garbage is freed first.
 */
static void test_byte_trigger(void **state)
{
	rcl_heap *h = heap_with(0, 10, 10, 1 << 20);
	int destroyed = 0;
	rcl_stats st;

	(void)state;
	for (int i = 0; i < 2; i++) {
		node *c = make_cycle(h, &node_type, &destroyed);

		c->payload_size = 400 << 10;
		c->payload = rcl_owned_alloc(c, c->payload_size);
		rcl_decref(c);
	}
	st = stats(h);
	assert_int_equal(st.collections_total, 0); /* ~800 KiB < 1 MiB */
	assert_int_equal(st.owned_bytes, 800 << 10);
	node *c = make_cycle(h, &node_type, &destroyed);
	c->payload_size = 400 << 10;
	c->payload = rcl_owned_alloc(c, c->payload_size); /* would pass */
	st = stats(h);
	assert_int_equal(st.collections_total, 1);
	assert_int_equal(st.collections_by_bytes_total, 1);
	assert_int_equal(destroyed, 4);
	assert_int_equal(st.owned_bytes, 400 << 10); /* only the new one */
	assert_int_equal(st.young_bytes_since, 400 << 10);
	rcl_decref(c);
	/* memory freed by refcount does not count towards the trigger */
	for (int i = 0; i < 20; i++) {
		node *n = rcl_new(h, &node_type);

		n->payload_size = 300 << 10;
		n->payload = rcl_owned_alloc(n, n->payload_size);
		rcl_decref(n);
	}
	assert_int_equal(stats(h).collections_total, 1);
	rcl_collect(h, 2);
	rcl_heap_destroy(h);
}

/* A large allocation that alone passes the trigger collects first. */
static void test_byte_trigger_single_large(void **state)
{
	rcl_heap *h = heap_with(700, 10, 10, 1 << 20);
	int destroyed = 0;

	(void)state;
	node *c = make_cycle(h, &node_type, &destroyed);
	rcl_decref(c);
	node *big = rcl_new_var(h, &node_type, 2 << 20);
	assert_int_equal(destroyed, 2);
	assert_int_equal(stats(h).collections_by_bytes_total, 1);
	rcl_decref(big);
	rcl_heap_destroy(h);
}

/*
 * Garbage promoted before it died is found by the byte rule for full
 * collections: the heap may not grow by more than max(young_bytes, 25% of
 * the last full collection's survivors). Here each payload lives across a
 * young collection, so it dies in gen 1, where count pacing alone would
 * leave some 40 of them (10 MiB) before collecting gen 1.
 */
static void test_byte_full_rule(void **state)
{
	rcl_heap *h = heap_with(700, 10, 10, 1 << 20);
	node *ring[2] = {NULL, NULL};
	int destroyed = 0;
	size_t peak = 0;
	rcl_stats st;

	(void)state;
	for (int i = 0; i < 400; i++) {
		node *c = make_cycle(h, &node_type, &destroyed);

		c->payload_size = 256 << 10;
		c->payload = rcl_owned_alloc(c, c->payload_size);
		rcl_decref(ring[i % 2]);
		ring[i % 2] = c;
		if (stats(h).bytes > peak)
			peak = stats(h).bytes;
	}
	st = stats(h);
	assert_true(st.gen[2].collections > 0);
	assert_true(st.collections_by_bytes_total > 0);
	assert_true(peak < (4u << 20));
	assert_true(destroyed > 2 * 380);
	rcl_decref(ring[0]);
	rcl_decref(ring[1]);
	rcl_heap_destroy(h);
}

/* One scripted workload, run with and without byte pacing information. */
static void workload(rcl_heap *h, bool payloads, uint64_t *gens)
{
	node *keep[64] = {0};
	uint32_t x = 12345;
	static int destroyed; /* outlives the call: the heap frees the rest later */

	for (int i = 0; i < 20000; i++) {
		x = x * 1103515245u + 12345u;
		int slot = (x >> 8) % 64;
		node *c = make_cycle(h, &node_type, &destroyed);

		if (payloads) {
			c->payload_size = 64 << 10;
			c->payload = rcl_owned_alloc(c, c->payload_size);
		}
		rcl_decref(keep[slot]);
		keep[slot] = (x >> 20) % 3 ? c : NULL;
		if (!keep[slot])
			rcl_decref(c);
	}
	for (int i = 0; i < 64; i++)
		rcl_decref(keep[i]);
	for (int i = 0; i < 3; i++)
		gens[i] = stats(h).gen[i].collections;
}

/* young_bytes 0 behaves exactly like count-only pacing, payloads or not. */
static void test_byte_pacing_off_is_count_only(void **state)
{
	uint64_t a[3], b[3], c[3];
	rcl_heap *h;

	(void)state;
	h = heap_with(700, 10, 10, 0);
	workload(h, true, a);
	rcl_heap_destroy(h);
	h = heap_with(700, 10, 10, 0);
	workload(h, false, b);
	rcl_heap_destroy(h);
	assert_memory_equal(a, b, sizeof(a));
	assert_true(a[0] > 0);
	/* and byte pacing on does change it: the payloads force more */
	h = heap_with(700, 10, 10, 1 << 20);
	workload(h, true, c);
	rcl_heap_destroy(h);
	assert_true(c[0] > a[0]);
}

/* A finalizer runs once; an object it resurrects survives and is counted. */
static void test_finalizer_once_and_resurrection(void **state)
{
	rcl_heap *h = heap_with(700, 10, 10, 0);
	int destroyed = 0, finalized = 0;
	node *saved = NULL;
	node *a = make_cycle(h, &fnode_type, &destroyed);

	(void)state;
	a->finalized = &finalized;
	a->f[0]->finalized = &finalized;
	a->resurrect_into = &saved;
	rcl_decref(a);
	assert_int_equal(rcl_collect(h, 2), 2);
	assert_int_equal(finalized, 2);
	assert_int_equal(destroyed, 0); /* a resurrected, and b with it */
	assert_ptr_equal(saved, a);
	assert_int_equal(stats(h).resurrected_total, 2);
	assert_int_equal(stats(h).objects, 2);
	assert_true(rcl_heap_validate(h));
	/* dropped again: found again, not finalized again, freed */
	rcl_decref(saved);
	assert_int_equal(rcl_collect(h, 2), 2);
	assert_int_equal(finalized, 2);
	assert_int_equal(destroyed, 2);
	assert_int_equal(stats(h).objects, 0);
	rcl_heap_destroy(h);
}

/* A finalizer also runs once when refcounting frees, and may resurrect. */
static void test_finalizer_refcount_path(void **state)
{
	rcl_heap *h = heap_with(700, 10, 10, 0);
	int destroyed = 0, finalized = 0;
	node *saved = NULL;
	node *a = rcl_new(h, &fnode_type);

	(void)state;
	a->finalized = &finalized;
	a->destroyed = &destroyed;
	a->resurrect_into = &saved;
	rcl_decref(a);
	assert_int_equal(finalized, 1);
	assert_int_equal(destroyed, 0);
	assert_ptr_equal(saved, a);
	rcl_decref(saved);
	assert_int_equal(finalized, 1);
	assert_int_equal(destroyed, 1);
	rcl_heap_destroy(h);
}

struct order {
	int callbacks;
	int finalizers;
	int callbacks_before_finalizers;
	rcl_weakref *w;
	bool saw_null;
};

static struct order *g_order;

static void order_cb(rcl_weakref *w, void *arg)
{
	struct order *o = arg;

	o->callbacks++;
	if (o->finalizers == 0)
		o->callbacks_before_finalizers++;
	if (!rcl_weakref_get(w))
		o->saw_null = true;
}

static void order_finalize(void *self)
{
	(void)self;
	g_order->finalizers++;
	/* a finalizer sees every weak reference into the set cleared */
	assert_false(rcl_weakref_alive(g_order->w));
}

static const rcl_type order_type = {
    .name = "order",
    .size = sizeof(node),
    .traverse = node_traverse,
    .clear = node_clear,
    .finalize = order_finalize,
};

/* Weak references into garbage are cleared before callbacks and
 * finalizers run, and callbacks run before finalizers. */
static void test_weakrefs_cleared_first(void **state)
{
	rcl_heap *h = heap_with(700, 10, 10, 0);
	struct order o = {0};
	node *a, *b;
	rcl_weakref *w1, *w2;

	(void)state;
	g_order = &o;
	a = rcl_new(h, &order_type);
	b = rcl_new(h, &order_type);
	node_set(a, 0, b);
	node_set(b, 0, a);
	w1 = rcl_weakref_new(a, order_cb, &o);
	w2 = rcl_weakref_new(b, order_cb, &o);
	o.w = w2;
	node *got = rcl_weakref_get(w1);
	assert_ptr_equal(got, a);
	rcl_decref(got);
	rcl_decref(a);
	rcl_decref(b);
	assert_int_equal(rcl_collect(h, 2), 2);
	assert_int_equal(o.callbacks, 2);
	assert_int_equal(o.callbacks_before_finalizers, 2);
	assert_int_equal(o.finalizers, 2);
	assert_true(o.saw_null);
	assert_null(rcl_weakref_get(w1));
	assert_false(rcl_weakref_alive(w2));
	rcl_decref(w1);
	rcl_decref(w2);
	assert_int_equal(stats(h).objects, 0);
	rcl_heap_destroy(h);
}

/* A weak reference reads NULL once refcounting frees its referent; one
 * that dies first leaves its referent alone. */
static void test_weakref_refcount(void **state)
{
	rcl_heap *h = heap_with(700, 10, 10, 0);
	struct order o = {0};
	node *a = rcl_new(h, &node_type);
	rcl_weakref *w = rcl_weakref_new(a, order_cb, &o);
	rcl_weakref *w2 = rcl_weakref_new(a, NULL, NULL);

	(void)state;
	g_order = &o;
	assert_true(rcl_weakref_alive(w));
	rcl_decref(w2); /* dies first */
	rcl_decref(a);
	assert_false(rcl_weakref_alive(w));
	assert_int_equal(o.callbacks, 1);
	assert_true(o.saw_null);
	rcl_decref(w);
	assert_null(rcl_weakref_new(NULL, NULL, NULL));
	assert_int_equal(stats(h).objects, 0);
	rcl_heap_destroy(h);
}

/* Frozen objects are never collected, until unfrozen. */
static void test_freeze(void **state)
{
	rcl_heap *h = heap_with(700, 10, 10, 0);
	int destroyed = 0;
	node *a = make_cycle(h, &node_type, &destroyed);

	(void)state;
	rcl_decref(a);
	rcl_freeze(h);
	assert_int_equal(rcl_freeze_count(h), 2);
	assert_int_equal(stats(h).frozen_objects, 2);
	assert_int_equal(stats(h).gen[0].objects, 0);
	assert_int_equal(rcl_collect(h, 2), 0);
	assert_int_equal(destroyed, 0);
	rcl_unfreeze(h);
	assert_int_equal(rcl_freeze_count(h), 0);
	assert_int_equal(stats(h).gen[2].objects, 2);
	assert_int_equal(rcl_collect(h, 2), 2);
	assert_int_equal(destroyed, 2);
	rcl_heap_destroy(h);
}

struct seen {
	int calls;
	size_t count;
	int nodes;
	int edges_inside;
	int edges_outside;
	const rcl_garbage *g;
	int gen;
};

static void seen_edge(void *child, const char *field, void *arg)
{
	struct seen *s = arg;

	assert_non_null(field);
	if (rcl_garbage_contains(s->g, child))
		s->edges_inside++;
	else
		s->edges_outside++;
}

static void seen_obj(void *obj, void *arg)
{
	struct seen *s = arg;

	if (rcl_typeof(obj) == &node_type)
		s->nodes++;
	assert_true(rcl_object_bytes(obj) > sizeof(node));
	rcl_traverse(obj, seen_edge, s);
}

static void observer(rcl_heap *h, int gen, const rcl_garbage *g, void *arg)
{
	struct seen *s = arg;

	(void)h;
	s->calls++;
	s->gen = gen;
	s->g = g;
	s->count = rcl_garbage_count(g);
	rcl_garbage_foreach(g, seen_obj, s);
}

/* The observer sees each collection's unreachable set with its edges. */
static void test_observer(void **state)
{
	rcl_heap *h = heap_with(700, 10, 10, 0);
	struct seen s = {0};
	int destroyed = 0;
	node *live = rcl_new(h, &node_type);
	node *a = make_cycle(h, &node_type, &destroyed);

	(void)state;
	rcl_set_observer(h, observer, &s);
	assert_int_equal(rcl_collect(h, 0), 0);
	assert_int_equal(s.calls, 0); /* nothing unreachable, no call */
	node_set(a->f[0], 2, live);   /* an edge out of the cycle */
	rcl_decref(a);
	assert_int_equal(rcl_collect(h, 1), 2);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.gen, 1);
	assert_int_equal(s.count, 2);
	assert_int_equal(s.nodes, 2);
	assert_int_equal(s.edges_inside, 2);
	assert_int_equal(s.edges_outside, 1);
	assert_int_equal(destroyed, 2);
	rcl_set_observer(h, NULL, NULL);
	rcl_decref(live);
	rcl_heap_destroy(h);
}

static rcl_heap *g_heap;
static size_t g_nested;
static int g_nested_errno;

static void collecting_finalize(void *self)
{
	(void)self;
	g_nested = rcl_collect(g_heap, 2);
	g_nested_errno = errno;
}

static const rcl_type collecting_type = {
    .name = "collecting",
    .size = sizeof(node),
    .traverse = node_traverse,
    .clear = node_clear,
    .finalize = collecting_finalize,
};

/* A collection from inside a collection is refused with EBUSY. */
static void test_no_reentrant_collection(void **state)
{
	rcl_heap *h = heap_with(700, 10, 10, 0);
	node *a = rcl_new(h, &collecting_type), *b = rcl_new(h, &node_type);

	(void)state;
	g_heap = h;
	node_set(a, 0, b);
	node_set(b, 0, a);
	rcl_decref(a);
	rcl_decref(b);
	assert_int_equal(rcl_collect(h, 2), 2);
	assert_int_equal(g_nested, 0);
	assert_int_equal(g_nested_errno, EBUSY);
	errno = 0;
	assert_int_equal(rcl_collect(h, 3), 0);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(rcl_collect(h, -1), 0);
	rcl_heap_destroy(h);
}

static void sticky_clear(void *self)
{
	(void)self; /* drops nothing: the cycle cannot be broken */
}

static const rcl_type sticky_type = {
    .name = "sticky",
    .size = sizeof(node),
    .traverse = node_traverse,
    .clear = sticky_clear,
};

/* Members a broken clear() leaves alive are counted uncollectable and kept
 * consistent, not freed under their referrers. */
static void test_uncollectable(void **state)
{
	rcl_heap *h = heap_with(700, 10, 10, 0);
	node *a = rcl_new(h, &sticky_type), *b = rcl_new(h, &sticky_type);

	(void)state;
	a->f[0] = b;
	b->f[0] = a;
	assert_int_equal(rcl_collect(h, 2), 2);
	rcl_stats st = stats(h);
	assert_int_equal(st.gen[2].uncollectable, 2);
	assert_int_equal(st.objects, 2);
	assert_true(rcl_heap_validate(h));
	rcl_heap_destroy(h); /* frees them anyway */
}

struct hooked {
	int calls;
	int last_gen;
	size_t last_found;
	size_t objects_after;
	int nested_errno;
};

static void hook(rcl_heap *h, int gen, size_t found, void *arg)
{
	struct hooked *k = arg;
	rcl_type_stats ts[4];

	k->calls++;
	k->last_gen = gen;
	k->last_found = found;
	rcl_heap_census(h, ts, 4); /* the heap is consistent here */
	k->objects_after = stats(h).objects;
	errno = 0;
	rcl_collect(h, 0);
	k->nested_errno = errno;
}

/* The collect hook runs after every collection, the heap consistent. */
static void test_collect_hook(void **state)
{
	rcl_heap *h = heap_with(5, 10, 10, 0);
	struct hooked k = {0};
	int destroyed = 0;
	node *keep[6];

	(void)state;
	rcl_set_collect_hook(h, hook, &k);
	node *a = make_cycle(h, &node_type, &destroyed);
	rcl_decref(a);
	assert_int_equal(rcl_collect(h, 2), 2);
	assert_int_equal(k.calls, 1);
	assert_int_equal(k.last_gen, 2);
	assert_int_equal(k.last_found, 2);
	assert_int_equal(k.objects_after, 0); /* garbage already freed */
	assert_int_equal(k.nested_errno, EBUSY);
	for (int i = 0; i < 6; i++) /* the 6th passes threshold 5 */
		keep[i] = rcl_new(h, &node_type);
	assert_int_equal(k.calls, 2);
	assert_int_equal(k.last_gen, 0);
	for (int i = 0; i < 6; i++)
		rcl_decref(keep[i]);
	rcl_set_collect_hook(h, NULL, NULL);
	rcl_collect(h, 2);
	assert_int_equal(k.calls, 2);
	rcl_heap_destroy(h);
}

/* Collections are timed into the pause statistics. */
static void test_pause_stats(void **state)
{
	rcl_heap *h = heap_with(700, 10, 10, 0);
	uint64_t sum = 0;

	(void)state;
	for (int i = 0; i < 5; i++)
		rcl_collect(h, i % 3);
	rcl_stats st = stats(h);
	for (int i = 0; i < RCL_PAUSE_BUCKETS; i++)
		sum += st.pause_hist[i];
	assert_int_equal(sum, 5);
	assert_true(st.pause_max_ns >= st.pause_last_ns);
	assert_true(st.pause_total_ns >= st.pause_max_ns);
	assert_int_equal(rcl_pause_bounds_ns[RCL_PAUSE_BUCKETS - 1],
			 UINT64_MAX);
	rcl_heap_destroy(h);
}

/* An old generation of n nodes held from C (one at a time: no closure
 * reaches the others), made old by a full collection. */
static node **old_nodes(rcl_heap *h, size_t n)
{
	node **keep = calloc(n, sizeof(*keep));

	assert_non_null(keep);
	for (size_t i = 0; i < n; i++)
		keep[i] = rcl_new(h, &node_type);
	rcl_collect(h, 2);
	return keep;
}

static void drop_nodes(node **keep, size_t n)
{
	for (size_t i = 0; i < n; i++)
		rcl_decref(keep[i]);
	free(keep);
}

/*
 * Incremental pacing: a garbage cycle in the oldest generation is freed by
 * increments, with no full collection, before the net allocation passes
 * twice the pass budget (max(young_bytes / 2, heap / 8)) and one young
 * collection's worth, the figure rcl_set_incremental() states.
 */
static void test_incremental_pacing(void **state)
{
	const size_t old = 50000, young = 1 << 20;
	rcl_heap *h = heap_with(700, 10, 10, young);
	node **keep = old_nodes(h, old), **fresh;
	int destroyed = 0;
	size_t base, pass, grown = 0, n = 0;
	node *c = make_cycle(h, &node_type, &destroyed);
	rcl_stats st;

	(void)state;
	rcl_set_incremental(h, true);
	rcl_set_increment_objects(h, 1000);
	rcl_collect(h, 2); /* the cycle is old, and a pass begins */
	rcl_decref(c);	   /* now old garbage */
	st = stats(h);
	base = st.bytes;
	pass = base / 8 > young / 2 ? base / 8 : young / 2;
	fresh = calloc(old, sizeof(*fresh));
	assert_non_null(fresh);
	while (destroyed == 0 && n < old) {
		fresh[n++] = rcl_new(h, &node_type);
		grown = stats(h).bytes - base;
	}
	st = stats(h);
	assert_int_equal(destroyed, 2);
	assert_true(grown <= 2 * pass + 700 * 128);
	assert_int_equal(st.gen[2].collections, 2); /* the two by hand */
	assert_true(st.increments_total > 0);
	assert_int_equal(st.increments_oversized_total, 0);
	assert_true(st.increment_pause_max_ns > 0);
	assert_true(st.old_passes_total >= 2);
	print_message("# old cycle freed after %zu bytes (budget %zu), %llu "
		      "increments\n",
		      grown, pass, (unsigned long long)st.increments_total);
	drop_nodes(fresh, n);
	drop_nodes(keep, old);
	rcl_heap_destroy(h);
}

/* Off, the same workload finds the cycle only with a full collection. */
static void test_incremental_off(void **state)
{
	rcl_heap *h = heap_with(700, 10, 10, 1 << 20);
	rcl_stats st;

	(void)state;
	assert_false(rcl_incremental(h));
	assert_int_equal(rcl_increment_objects(h), RCL_DEFAULT_INCREMENT_OBJECTS);
	rcl_set_increment_objects(h, 0);
	assert_int_equal(rcl_increment_objects(h), 1);
	st = stats(h);
	assert_false(st.incremental);
	assert_int_equal(st.increments_total, 0);
	rcl_heap_destroy(h);
}

/* A cache kept in one container: a list of n nodes, old, with an old
 * cycle among them; the cycle is dropped from the list, then increments
 * of 100 units run alone. n = 20000 for 100 a slice: a pass walks the
 * list's references, and its nodes, in 200 slices at least. */
static size_t wide_list(rcl_heap *h, size_t n, int *destroyed)
{
	rcl_list *cache = rcl_list_new(h, 0);
	node *c;
	size_t i;

	assert_non_null(cache);
	for (i = 0; i < n; i++) {
		node *x = rcl_new(h, &node_type);

		assert_non_null(x);
		assert_int_equal(rcl_list_append(cache, x), 0);
		rcl_decref(x);
	}
	c = make_cycle(h, &node_type, destroyed);
	assert_int_equal(rcl_list_append(cache, c), 0);
	rcl_decref(c);
	rcl_collect(h, 2); /* all old; a pass begins */
	rcl_set_increment_objects(h, 100);
	rcl_decref(rcl_list_pop(cache)); /* the cycle: old garbage */
	for (i = 0; i < 100 * n && *destroyed == 0; i++)
		rcl_collect_increment(h);
	rcl_decref(cache);
	return i;
}

/* One container reaching the whole old generation does not make an
 * increment walk it whole: its items are walked a slice at a time (the
 * list describes them), no increment is oversized, and the cycle is
 * still found by increments alone. */
static void test_incremental_wide(void **state)
{
	const size_t n = 20000;
	rcl_heap *h = heap_with(0, 0, 0, 0);
	int destroyed = 0;
	size_t increments = wide_list(h, n, &destroyed);
	rcl_stats st = stats(h);

	(void)state;
	assert_int_equal(destroyed, 2);
	assert_int_equal(st.increments_oversized_total, 0);
	/* the pass under way, and the one that found it: each walks the n
	 * nodes and the list's n references at least once */
	assert_true(increments >= 2 * n / 100);
	assert_int_equal(st.gen[2].collections, 1); /* the one by hand */
	print_message("# cycle beside %zu nodes in one list: %zu increments, "
		      "none oversized\n",
		      n, increments);
	rcl_heap_destroy(h);
}

/* The same cache in one map: its values are a described vector too, walked
 * a slice at a time however large the map. */
static void test_incremental_wide_map(void **state)
{
	const size_t n = 20000;
	rcl_heap *h = heap_with(0, 0, 0, 0);
	rcl_map *cache = rcl_map_new(h);
	int destroyed = 0;
	char key[32];
	size_t i;
	rcl_stats st;

	(void)state;
	assert_non_null(cache);
	for (i = 0; i < n; i++) {
		node *x = rcl_new(h, &node_type);

		assert_non_null(x);
		snprintf(key, sizeof(key), "%zu", i);
		assert_int_equal(rcl_map_set(cache, key, x), 0);
		rcl_decref(x);
	}
	{
		node *c = make_cycle(h, &node_type, &destroyed);

		assert_int_equal(rcl_map_set(cache, "cycle", c), 0);
		rcl_decref(c);
	}
	rcl_collect(h, 2);
	rcl_set_increment_objects(h, 100);
	assert_int_equal(rcl_map_del(cache, "cycle"), 0); /* old garbage */
	for (i = 0; i < 100 * n && destroyed == 0; i++)
		rcl_collect_increment(h);
	st = stats(h);
	assert_int_equal(destroyed, 2);
	assert_int_equal(st.increments_oversized_total, 0);
	assert_true(i >= 2 * n / 100);
	rcl_decref(cache);
	rcl_heap_destroy(h);
}

/* Objects freed while the pass holds them on its work stack (the mark
 * pushes a slice of the list's items, and the program drops items between
 * increments) leave it cleanly: every pass ends, nothing in use is freed
 * and the heap stays valid (the sanitizers watch the stack's entries). */
static void test_incremental_freed_meanwhile(void **state)
{
	const size_t n = 5000;
	rcl_heap *h = heap_with(0, 0, 0, 0);
	rcl_list *l = rcl_list_new(h, 0);
	uint64_t passes;
	rcl_stats st;

	(void)state;
	assert_non_null(l);
	for (size_t i = 0; i < n; i++) {
		node *x = rcl_new(h, &node_type);

		assert_non_null(x);
		if (i > 0) /* a chain too, so the mark pushes deeper */
			node_set(x, 0, rcl_list_get(l, i - 1));
		assert_int_equal(rcl_list_append(l, x), 0);
		rcl_decref(x);
	}
	rcl_collect(h, 2);
	rcl_set_increment_objects(h, 50);
	passes = stats(h).old_passes_total;
	for (int i = 0; i < 100000 && rcl_list_len(l) > 0; i++) {
		rcl_collect_increment(h);
		rcl_decref(rcl_list_pop(l)); /* n increments: passes of
					      * about 600 each */
		if (i % 7 == 0 && rcl_list_len(l) > 0) /* a chain cut */
			node_set(rcl_list_get(l, rcl_list_len(l) / 2), 0, NULL);
	}
	st = stats(h);
	assert_true(st.old_passes_total > passes + 2);
	assert_true(rcl_heap_validate(h));
	assert_int_equal(st.objects, 1); /* the list alone */
	rcl_decref(l);
	rcl_heap_destroy(h);
}

/* A type's own traverse is called whole: a bag of 100 references walked
 * by it makes an increment of 10 units walk 100, counted as oversized;
 * the cycle it holds, once dropped, is found all the same. */
struct bag {
	node *item[100];
};

static void bag_traverse(void *self, rcl_visit_fn visit, void *arg)
{
	struct bag *b = self;

	for (int i = 0; i < 100; i++)
		if (b->item[i])
			visit(b->item[i], "item", arg);
}

static void bag_clear(void *self)
{
	struct bag *b = self;

	for (int i = 0; i < 100; i++) {
		node *c = b->item[i];

		b->item[i] = NULL;
		rcl_decref(c);
	}
}

static const rcl_type bag_type = {
    .name = "Bag",
    .size = sizeof(struct bag),
    .traverse = bag_traverse,
    .clear = bag_clear,
};

static void test_incremental_oversized(void **state)
{
	rcl_heap *h = heap_with(0, 0, 0, 0);
	struct bag *bag = rcl_new(h, &bag_type);
	int destroyed = 0;
	rcl_stats st;

	(void)state;
	assert_non_null(bag);
	for (int i = 0; i < 99; i++)
		assert_non_null(bag->item[i] = rcl_new(h, &node_type));
	bag->item[99] = make_cycle(h, &node_type, &destroyed);
	rcl_collect(h, 2);
	rcl_set_increment_objects(h, 10);
	rcl_decref(bag->item[99]);
	bag->item[99] = NULL; /* the cycle: old garbage */
	for (int i = 0; i < 1000 && destroyed == 0; i++)
		rcl_collect_increment(h);
	st = stats(h);
	assert_int_equal(destroyed, 2);
	assert_true(st.increments_oversized_total > 0);
	assert_int_equal(st.gen[2].objects, 100);
	rcl_decref(bag);
	rcl_heap_destroy(h);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cycle_freed_by_collection),
	    cmocka_unit_test(test_reachable_survives),
	    cmocka_unit_test(test_last_member_only_root),
	    cmocka_unit_test(test_promotion),
	    cmocka_unit_test(test_count_thresholds),
	    cmocka_unit_test(test_long_lived_heuristic),
	    cmocka_unit_test(test_byte_trigger),
	    cmocka_unit_test(test_byte_trigger_single_large),
	    cmocka_unit_test(test_byte_full_rule),
	    cmocka_unit_test(test_byte_pacing_off_is_count_only),
	    cmocka_unit_test(test_finalizer_once_and_resurrection),
	    cmocka_unit_test(test_finalizer_refcount_path),
	    cmocka_unit_test(test_weakrefs_cleared_first),
	    cmocka_unit_test(test_weakref_refcount),
	    cmocka_unit_test(test_freeze),
	    cmocka_unit_test(test_observer),
	    cmocka_unit_test(test_no_reentrant_collection),
	    cmocka_unit_test(test_uncollectable),
	    cmocka_unit_test(test_collect_hook),
	    cmocka_unit_test(test_pause_stats),
	    cmocka_unit_test(test_incremental_pacing),
	    cmocka_unit_test(test_incremental_off),
	    cmocka_unit_test(test_incremental_wide),
	    cmocka_unit_test(test_incremental_wide_map),
	    cmocka_unit_test(test_incremental_freed_meanwhile),
	    cmocka_unit_test(test_incremental_oversized),
	};

	return unit_run(argc, argv, tests);
}
