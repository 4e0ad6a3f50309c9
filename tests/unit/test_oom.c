/*
 * Allocation-failure injection over the heap and the standard types: every
 * scenario runs once for each N with the Nth allocation failing, transient
 * (that one) and persistent (that one and every later one, clean-up and
 * rcl_heap_destroy included), until N passes the scenario's last allocation.
 * Each run must end with no crash, a heap that validates, every object
 * destroyed exactly once, finalizers and weak reference callbacks run at most
 * once, and nothing of the allocator's left live (ASan checks the rest).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <reclaim/reclaim.h>
#include <reclaim/types.h>

#include "test_oom.h"
#include "testobj.h"
#include "unit.h"

/* Runs past this many allocations mean a scenario that never ends. */
#define OOM_MAX_N 200000
#define NNODES 24

enum oom_mode { TRANSIENT, PERSISTENT, PERSISTENT_DESTROY };

/* What one run did, checked once the heap is gone. */
struct run {
	struct oom oom;
	enum oom_mode mode;
	int created;   /* nodes made */
	int destroyed; /* nodes destroyed, by node_destroy */
	int fin[NNODES];
	int cb[NNODES];
};

typedef void (*scenario_fn)(rcl_heap *h, struct run *r);

/* The heap scenario's runs on an incremental heap: increments of two old
 * objects between its steps (moves into the set, holes, restores). */
static bool incremental_run;

/* Two increments, on an incremental run. */
static void increments(rcl_heap *h)
{
	if (!incremental_run)
		return;
	rcl_collect_increment(h);
	rcl_collect_increment(h);
}

/* A weak reference's callback: count its runs. */
static void weak_cb(rcl_weakref *ref, void *arg)
{
	(*(int *)arg)++;
}

/* Stop injecting (transient and persistent runs clean up normally). */
static void injection_off(struct run *r)
{
	if (r->mode != PERSISTENT_DESTROY)
		r->oom.off = true;
}

/* Check what the heap says of itself; empty once injection is off. */
static void check_heap(rcl_heap *h, struct run *r, bool empty)
{
	rcl_stats st;

	assert_true(rcl_heap_validate(h));
	rcl_heap_stats(h, &st);
	assert_true(st.alloc_failures_total <= r->oom.failures);
	assert_true(st.owned_bytes <= st.bytes);
	if (empty) {
		assert_int_equal(st.objects, 0);
		assert_int_equal(st.owned_bytes, 0);
	}
}

/* A node (plain, finalizing or variable-size) with a payload sometimes. */
static node *make_node(rcl_heap *h, struct run *r, int i)
{
	const rcl_type *t = i % 3 == 0 ? &fnode_type : &node_type;
	node *n;

	n = i % 5 == 4 ? rcl_new_var(h, t, sizeof(node) + 32 * (size_t)i)
		       : rcl_new(h, t);
	if (n == NULL)
		return NULL;
	r->created++;
	n->id = i;
	n->destroyed = &r->destroyed;
	n->finalized = &r->fin[i];
	if (i % 4 == 1) {
		n->payload = rcl_owned_alloc(n, 1000 + (size_t)i);
		if (n->payload != NULL)
			n->payload_size = 1000 + (size_t)i;
	}
	return n;
}

/* Link a to b through field f when both exist. */
static void link_nodes(node *a, int f, node *b)
{
	if (a != NULL && b != NULL)
		node_set(a, f, b);
}

/*
 * A ring of many nodes, every other one with a finalizer, so the generation
 * vectors grow (in allocation and in collections) and a collection has a
 * large unreachable set to finalize. Returns a reference to one of them.
 */
static node *make_crowd(rcl_heap *h, struct run *r, size_t count)
{
	node *first = NULL, *prev = NULL, *x;
	size_t j;

	for (j = 0; j < count; j++) {
		x = rcl_new(h, j % 2 ? &node_type : &fnode_type);
		if (x == NULL)
			continue;
		r->created++;
		x->destroyed = &r->destroyed;
		link_nodes(x, 0, prev);
		if (first == NULL) {
			first = x;
			rcl_incref(first);
		}
		rcl_decref(prev);
		prev = x;
	}
	link_nodes(first, 1, prev);
	rcl_decref(prev);
	return first;
}

/*
 * Heap operations: objects of three kinds, owned payloads, weak references,
 * a ring, pairs, a self-loop, an acyclic chain, a finalizer that resurrects,
 * collections of each generation, freeze and unfreeze, a census.
 */
static void heap_scenario(rcl_heap *h, struct run *r)
{
	node *n[NNODES] = {0}, *back = NULL, *crowd;
	rcl_weakref *w[NNODES] = {0};
	rcl_type_stats ts[8];
	void *o;
	int i;

	for (i = 0; i < NNODES; i++) {
		n[i] = make_node(h, r, i);
		if (n[i] != NULL && i % 2 == 0)
			w[i] = rcl_weakref_new(n[i], weak_cb, &r->cb[i]);
	}
	crowd = make_crowd(h, r, 300);
	link_nodes(n[3], 2, crowd);
	rcl_decref(crowd);
	for (i = 0; i < 8; i++)
		link_nodes(n[i], 0, n[(i + 1) % 8]); /* a ring */
	link_nodes(n[8], 0, n[9]);
	link_nodes(n[9], 1, n[8]);
	link_nodes(n[10], 0, n[11]);
	link_nodes(n[11], 2, n[10]);
	link_nodes(n[12], 3, n[12]); /* a self-loop */
	link_nodes(n[13], 0, n[14]); /* a chain, freed by counting */
	link_nodes(n[14], 0, n[16]);
	if (n[15] != NULL)
		n[15]->resurrect_into = &back; /* finalizer resurrects */
	link_nodes(n[15], 0, n[17]);
	link_nodes(n[17], 0, n[15]);
	link_nodes(n[20], 0, n[2]); /* a survivor keeps part of the ring */
	rcl_collect(h, 0);
	rcl_collect(h, incremental_run ? 2 : 0); /* old, for the increments */
	for (i = 0; i < 20; i++) {
		rcl_decref(n[i]);
		n[i] = NULL;
		if (i % 5 == 4)
			increments(h);
	}
	rcl_collect(h, 0);
	increments(h);
	rcl_collect(h, 1);
	rcl_freeze(h);
	rcl_collect(h, 2);
	rcl_unfreeze(h);
	rcl_collect(h, 2);
	rcl_heap_census(h, ts, 8);
	for (i = 0; i < NNODES; i++) {
		o = w[i] != NULL ? rcl_weakref_get(w[i]) : NULL;
		rcl_decref(o);
	}
	check_heap(h, r, false);
	if (back != NULL) { /* dead again: the finalizer does not run twice */
		rcl_decref(back);
		back = NULL;
		rcl_collect(h, 2);
	}
	link_nodes(n[21], 0, n[22]);
	link_nodes(n[22], 0, n[21]);
	injection_off(r);
	for (i = 20; i < NNODES; i++)
		rcl_decref(n[i]);
	for (i = 0; i < NNODES; i++)
		rcl_decref(w[i]);
	rcl_collect(h, 2);
	check_heap(h, r, r->mode != PERSISTENT_DESTROY);
}

/* A closure's body: the size of what it captured. */
static void *closure_body(rcl_closure *self, void *arg)
{
	(*(size_t *)arg) += rcl_closure_ncaptured(self);
	return NULL;
}

/* Append b to l; a failed append must change nothing. */
static void list_append(rcl_list *l, void *item)
{
	size_t len;

	if (l == NULL || item == NULL)
		return;
	len = rcl_list_len(l);
	if (rcl_list_append(l, item) == 0)
		assert_int_equal(rcl_list_len(l), len + 1);
	else
		assert_int_equal(rcl_list_len(l), len);
}

/* Set key in m; a failed insert must change nothing. */
static void map_set(rcl_map *m, const char *key, void *value)
{
	size_t len;
	bool had;

	if (m == NULL || value == NULL)
		return;
	len = rcl_map_len(m);
	had = rcl_map_contains(m, key);
	if (rcl_map_set(m, key, value) == 0) {
		assert_int_equal(rcl_map_len(m), len + !had);
		assert_ptr_equal(rcl_map_get(m, key), value);
	} else {
		assert_int_equal(rcl_map_len(m), len);
		assert_int_equal(rcl_map_contains(m, key), had);
	}
}

/*
 * The standard types: a list that grows, a map that grows and shrinks, bytes
 * small and large, a tuple, a cell and a closure, closed into cycles through
 * each other, then collected.
 */
static void types_scenario(rcl_heap *h, struct run *r)
{
	rcl_list *l = rcl_list_new(h, 0);
	rcl_map *m = rcl_map_new(h);
	rcl_tuple *t = rcl_tuple_new(h, 3);
	rcl_cell *c = rcl_cell_new(h, NULL);
	rcl_closure *k = NULL;
	rcl_bytes *b;
	char key[16];
	size_t called = 0;
	int i;

	for (i = 0; i < 40; i++) {
		b = i % 13 == 12 ? rcl_bytes_repeat(h, "ab", 2, 5000)
				 : rcl_bytes_new(h, "0123456789", (size_t)i % 10);
		list_append(l, b);
		snprintf(key, sizeof key, "k%d", i);
		map_set(m, key, b);
		rcl_decref(b);
	}
	for (i = 0; i < 40; i += 3) {
		snprintf(key, sizeof key, "k%d", i);
		if (m != NULL)
			rcl_map_del(m, key);
	}
	if (l != NULL && rcl_list_len(l) > 2) {
		rcl_list_set(l, 1, l); /* a self-cycle */
		rcl_decref(rcl_list_pop(l));
	}
	map_set(m, "self", m);
	map_set(m, "list", l);
	list_append(l, m);
	if (t != NULL) {
		rcl_tuple_set(t, 0, l);
		rcl_tuple_set(t, 1, t);
		rcl_tuple_set(t, 2, c);
	}
	if (c != NULL && m != NULL) {
		k = rcl_closure_new(h, closure_body, 2, (void *[]){c, m});
		if (k != NULL) {
			rcl_cell_set(c, k); /* cell -> closure -> cell */
			rcl_closure_call(k, &called);
		}
	}
	rcl_collect(h, 0);
	rcl_decref(l);
	rcl_decref(m);
	rcl_decref(t);
	rcl_decref(c);
	rcl_decref(k);
	rcl_collect(h, 1);
	check_heap(h, r, false);
	injection_off(r);
	rcl_collect(h, 2);
	check_heap(h, r, r->mode != PERSISTENT_DESTROY);
}

/* One run with allocation n failing; false once n is past the last one. */
static bool run_once(scenario_fn fn, enum oom_mode mode, size_t n)
{
	struct run r = {.mode = mode};
	rcl_config cfg;
	rcl_heap *h;
	int i;

	r.oom.fail_at = n;
	r.oom.persist = mode != TRANSIENT;
	rcl_config_init(&cfg);
	cfg.thresholds[0] = 6; /* collections inside allocations too */
	cfg.thresholds[1] = 2;
	cfg.thresholds[2] = 2;
	cfg.young_bytes = 8192;
	cfg.allocator.alloc = oom_alloc;
	cfg.allocator.free = oom_free;
	cfg.allocator.ctx = &r.oom;
	h = rcl_heap_new(&cfg);
	if (h != NULL) {
		rcl_set_incremental(h, incremental_run);
		rcl_set_increment_objects(h, 2);
		fn(h, &r);
		rcl_heap_destroy(h);
	}
	if (r.oom.live != 0 || r.oom.bad_frees != 0 ||
	    r.destroyed != r.created)
		fail_msg("N=%zu (%s): %zu blocks (%zu bytes) left, %zu bad "
			 "frees, %d of %d objects destroyed",
			 n, mode == TRANSIENT ? "transient" : "persistent",
			 r.oom.live, r.oom.live_bytes, r.oom.bad_frees,
			 r.destroyed, r.created);
	for (i = 0; i < NNODES; i++) {
		assert_in_range(r.fin[i], 0, 1);
		assert_in_range(r.cb[i], 0, 1);
	}
	return r.oom.failures > 0;
}

/* Every N from 1 until a run has no failure left to inject. */
static void run_all(scenario_fn fn, enum oom_mode mode, const char *name)
{
	size_t n;

	for (n = 1; n < OOM_MAX_N && run_once(fn, mode, n); n++)
		;
	assert_true(n < OOM_MAX_N);
	print_message("%s: N = 1..%zu (each allocation the scenario makes), "
		      "every run clean\n",
		      name, n - 1);
}

static void test_heap_transient(void **state)
{
	run_all(heap_scenario, TRANSIENT, "heap, transient");
}

static void test_heap_persistent(void **state)
{
	run_all(heap_scenario, PERSISTENT, "heap, persistent");
}

static void test_heap_persistent_destroy(void **state)
{
	run_all(heap_scenario, PERSISTENT_DESTROY,
		"heap, persistent through destroy");
}

static void test_incremental_transient(void **state)
{
	incremental_run = true;
	run_all(heap_scenario, TRANSIENT, "incremental heap, transient");
	incremental_run = false;
}

static void test_incremental_persistent(void **state)
{
	incremental_run = true;
	run_all(heap_scenario, PERSISTENT, "incremental heap, persistent");
	incremental_run = false;
}

static void test_types_transient(void **state)
{
	run_all(types_scenario, TRANSIENT, "types, transient");
}

static void test_types_persistent(void **state)
{
	run_all(types_scenario, PERSISTENT, "types, persistent");
}

static void test_types_persistent_destroy(void **state)
{
	run_all(types_scenario, PERSISTENT_DESTROY,
		"types, persistent through destroy");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_heap_transient),
	    cmocka_unit_test(test_heap_persistent),
	    cmocka_unit_test(test_heap_persistent_destroy),
	    cmocka_unit_test(test_incremental_transient),
	    cmocka_unit_test(test_incremental_persistent),
	    cmocka_unit_test(test_types_transient),
	    cmocka_unit_test(test_types_persistent),
	    cmocka_unit_test(test_types_persistent_destroy),
	};

	return unit_run(argc, argv, tests);
}
