/*
 * Randomized property test: random graphs built by random stores and drops
 * from a few roots, with automatic collections at random thresholds going off
 * in between. Afterwards, a full collection must free exactly the objects
 * that the test itself finds unreachable from the roots: nothing reachable
 * was ever freed, nothing unreachable survives. Weak references must read
 * NULL exactly for the freed. Nodes are of types with a traverse callback
 * and of types that describe their fields (rcl_ref), which the collector
 * walks itself; some edges go through containers that describe their
 * items, a standard list (a vector outside the object) or tuple (an array
 * inside it). Fixed seeds, so every failure reproduces.
 *
 * The same graphs again on incremental heaps (rcl_set_incremental), with
 * increments of 1 to 8 units (objects walked, references followed) run
 * between the steps, so that a pass's count, mark and sweep each span many
 * increments, containers are walked in slices, and the graph changes
 * between them (objects freed while on the pass's work stack, containers
 * grown and moved, edges moved behind the mark); the final check
 * then runs increments only, until the pass under way and the next one
 * have ended, and they must have freed exactly the unreachable, finalizers
 * and weak references included (a stop-the-world collection afterwards
 * finds nothing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <reclaim/types.h>

#include "testobj.h"
#include "unit.h"

#define GRAPHS 2000
#define STEPS 400
#define ROOTS 6
#define MAXN (STEPS + 1)

static bool alive[MAXN];
static int finalized[MAXN];

static void pnode_destroy(void *self)
{
	alive[((node *)self)->id] = false;
}

static void pnode_finalize(void *self)
{
	finalized[((node *)self)->id]++;
}

static const rcl_type ptype = {
    .name = "p",
    .size = sizeof(node),
    .traverse = node_traverse,
    .clear = node_clear,
    .destroy = pnode_destroy,
};

static const rcl_type pftype = {
    .name = "pf",
    .size = sizeof(node),
    .traverse = node_traverse,
    .clear = node_clear,
    .finalize = pnode_finalize,
    .destroy = pnode_destroy,
};

/* The same node, its fields described: no traverse, no clear. */
#define NODE_REFS                                                              \
	RCL_REFS(RCL_REF(node, f[0]), RCL_REF(node, f[1]), RCL_REF(node, f[2]), \
		 RCL_REF(node, f[3]))

static const rcl_type dtype = {
    .name = "d",
    .size = sizeof(node),
    .destroy = pnode_destroy,
    NODE_REFS,
};

static const rcl_type dftype = {
    .name = "df",
    .size = sizeof(node),
    .finalize = pnode_finalize,
    .destroy = pnode_destroy,
    NODE_REFS,
};

static const rcl_type *const node_types[] = {&ptype, &pftype, &dtype,
					      &dftype};

static uint64_t rng;
static size_t old_at_end; /* incremental graphs with old objects at the end */

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/* How many nodes p (a node's field) holds as a container: a list or a
 * tuple; -1 when it is a node (or NULL). */
static long container_len(const void *p)
{
	if (p && rcl_typeof(p) == &rcl_list_type)
		return (long)rcl_list_len(p);
	if (p && rcl_typeof(p) == &rcl_tuple_type)
		return (long)rcl_tuple_len(p);
	return -1;
}

/* Item i of the container p. */
static node *container_get(const void *p, size_t i)
{
	if (rcl_typeof(p) == &rcl_list_type)
		return rcl_list_get(p, i);
	return rcl_tuple_get(p, i);
}

/* What a field leads to: the node, or a random node of the container. */
static node *follow(node *p)
{
	long len = container_len(p);

	if (len < 0)
		return p;
	return len ? container_get(p, rnd((uint32_t)len)) : NULL;
}

/* A node reachable from the roots, by a short random walk; or NULL. */
static node *walk(node **roots)
{
	node *cur = roots[rnd(ROOTS)];

	for (int steps = rnd(6); cur && steps > 0; steps--) {
		node *next = follow(cur->f[rnd(NODE_FIELDS)]);

		if (!next)
			break;
		cur = next;
	}
	return cur;
}

/* Mark what the roots reach, by the test's own depth-first search
 * (containers are seen through, and each one's items pushed). */
static void mark(node *n, bool *reach)
{
	static node *stack[MAXN * (NODE_FIELDS + 8) + ROOTS];
	int top = 0;

	stack[top++] = n;
	while (top) {
		n = stack[--top];
		if (!n || reach[n->id])
			continue;
		reach[n->id] = true;
		for (int i = 0; i < NODE_FIELDS; i++) {
			node *f = n->f[i];
			long len = container_len(f);

			if (len < 0) {
				if (f)
					stack[top++] = f;
				continue;
			}
			for (long j = 0; j < len; j++)
				stack[top++] = container_get(f, (size_t)j);
		}
	}
}

/* A list or a tuple of up to 3 reachable nodes (maybe none), in a field of
 * a reachable node, where it may close cycles through the container. */
static void store_list(rcl_heap *h, node **roots)
{
	node *src = walk(roots);
	uint32_t k = rnd(4);
	void *c;

	if (!src)
		return;
	if (rnd(2)) {
		c = rcl_list_new(h, 0);
		assert_non_null(c);
		for (; k > 0; k--) {
			node *item = walk(roots);

			if (item)
				assert_int_equal(rcl_list_append(c, item), 0);
		}
	} else {
		c = rcl_tuple_new(h, k);
		assert_non_null(c);
		for (uint32_t i = 0; i < k; i++)
			assert_int_equal(rcl_tuple_set(c, i, walk(roots)), 0);
	}
	node_set(src, (int)rnd(NODE_FIELDS), c);
	rcl_decref(c);
}

static const size_t thresholds[][3] = {
    {1, 1, 1}, {3, 2, 2}, {10, 5, 3}, {700, 10, 10}, {0, 10, 10},
};

/* Run increments until the pass under way and the next one are over
 * (with nothing old, one increment collects everything). */
static void finish_passes(rcl_heap *h)
{
	rcl_stats st;
	uint64_t start;

	rcl_heap_stats(h, &st);
	start = st.old_passes_total;
	for (int i = 0; i < 4 * MAXN; i++) {
		rcl_collect_increment(h);
		rcl_heap_stats(h, &st);
		if (st.old_passes_total >= start + 2 ||
		    (st.gen[2].objects == 0 && i >= 1))
			return;
	}
	fail_msg("passes did not end");
}

/* One random graph; returns how many objects the final collection found. */
static size_t run_graph(uint64_t seed, bool inc)
{
	rcl_config cfg;
	node *roots[ROOTS] = {0};
	rcl_weakref *weak[MAXN] = {0};
	bool reach[MAXN] = {0};
	size_t n = 0, found;
	/* one graph in three: described nodes alone, no weak references, so
	 * collections of whole garbage sets take the closed delete */
	bool plain = seed % 3 == 0;
	rcl_heap *h;
	rcl_stats st;

	rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	rcl_config_init(&cfg);
	memcpy(cfg.thresholds, thresholds[rnd(5)], sizeof(cfg.thresholds));
	cfg.young_bytes = rnd(2) ? 0 : 2000 + rnd(20000);
	h = rcl_heap_new(&cfg);
	rcl_set_incremental(h, inc);
	rcl_set_increment_objects(h, 1 + rnd(8));
	memset(alive, 0, sizeof(alive));
	memset(finalized, 0, sizeof(finalized));

	for (int step = 0; step < STEPS; step++) {
		uint32_t op = rnd(12);

		if (op < 4) { /* a new node, stored in a root or a field */
			node *x = rcl_new(h, plain ? &dtype
						   : node_types[rnd(4) ? rnd(2) * 2
								       : rnd(2) * 2 +
									     1]);
			node *at = rnd(3) ? walk(roots) : NULL;

			assert_non_null(x);
			x->id = (int)n;
			alive[n++] = true;
			if (at) {
				node_set(at, (int)rnd(NODE_FIELDS), x);
			} else {
				int r = (int)rnd(ROOTS);

				rcl_decref(roots[r]);
				roots[r] = x;
				rcl_incref(x);
			}
			if (rnd(8) == 0 && !plain)
				weak[x->id] = rcl_weakref_new(x, NULL, NULL);
			rcl_decref(x);
		} else if (op < 8) { /* an edge between reachable nodes */
			node *src = walk(roots),
			     *dst = rnd(5) ? walk(roots) : NULL;

			if (src)
				node_set(src, (int)rnd(NODE_FIELDS), dst);
		} else if (op < 10) { /* a root dropped or moved */
			int r = (int)rnd(ROOTS);
			node *to = rnd(2) ? walk(roots) : NULL;

			rcl_incref(to);
			rcl_decref(roots[r]);
			roots[r] = to;
		} else if (op == 10 && rnd(4) == 0) {
			rcl_collect(h, (int)rnd(3));
		} else if (op == 11) {
			store_list(h, roots);
		}
		if (inc && rnd(6) == 0)
			rcl_collect_increment(h);
	}

	for (int r = 0; r < ROOTS; r++)
		if (roots[r])
			mark(roots[r], reach);
	for (size_t i = 0; i < n; i++)
		if (reach[i] && !alive[i])
			fail_msg("seed %llu: reachable node %zu was freed",
				 (unsigned long long)seed, i);
	if (inc) {
		found = 0;
		for (size_t i = 0; i < n; i++)
			found += alive[i] && !reach[i];
		rcl_heap_stats(h, &st);
		old_at_end += st.gen[2].objects != 0;
		finish_passes(h);
		if (rcl_collect(h, 2) != 0)
			fail_msg("seed %llu: increments left garbage",
				 (unsigned long long)seed);
	} else {
		found = rcl_collect(h, 2);
	}
	for (size_t i = 0; i < n; i++) {
		if (alive[i] != reach[i])
			fail_msg("seed %llu: node %zu alive=%d reachable=%d",
				 (unsigned long long)seed, i, alive[i],
				 reach[i]);
		if (finalized[i] > 1)
			fail_msg("seed %llu: node %zu finalized %d times",
				 (unsigned long long)seed, i, finalized[i]);
		if (weak[i]) {
			assert_int_equal(rcl_weakref_alive(weak[i]), alive[i]);
			rcl_decref(weak[i]);
		}
	}
	if (!rcl_heap_validate(h))
		fail_msg("seed %llu: heap invalid", (unsigned long long)seed);
	for (int r = 0; r < ROOTS; r++)
		rcl_decref(roots[r]);
	rcl_collect(h, 2);
	for (size_t i = 0; i < n; i++)
		assert_false(alive[i]);
	rcl_heap_stats(h, &st);
	assert_int_equal(st.objects, 0);
	rcl_heap_destroy(h);
	return found;
}

static void test_random_graphs(void **state)
{
	size_t found = 0;

	(void)state;
	for (uint64_t seed = 1; seed <= GRAPHS; seed++)
		found += run_graph(seed, false);
	/* the workload really produces cyclic garbage */
	assert_true(found > GRAPHS);
	printf("# %d graphs, %zu unreachable objects found by the final "
	       "collections\n",
	       GRAPHS, found);
}

static void test_incremental_graphs(void **state)
{
	size_t found = 0;

	(void)state;
	for (uint64_t seed = 1; seed <= GRAPHS; seed++)
		found += run_graph(seed, true);
	/* garbage was left for the increments, and they had old objects to
	 * take in slices */
	assert_true(found > GRAPHS / 4);
	assert_true(old_at_end > GRAPHS / 4);
	printf("# %d incremental graphs (%zu with an old generation at the "
	       "end), %zu unreachable objects freed by the final increments\n",
	       GRAPHS, old_at_end, found);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_graphs),
	    cmocka_unit_test(test_incremental_graphs),
	};

	return unit_run(argc, argv, tests);
}
