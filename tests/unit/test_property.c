/*
 * Randomized property test: random graphs built by random stores and drops
 * from a few roots, with automatic collections at random thresholds going off
 * in between. Afterwards, a full collection must free exactly the objects
 * that the test itself finds unreachable from the roots: nothing reachable
 * was ever freed, nothing unreachable survives. Weak references must read
 * NULL exactly for the freed. Some edges go through standard lists (a
 * node's field holds a list of nodes), which the collector walks itself
 * rather than through traverse. Fixed seeds, so every failure reproduces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <reclaim/types.h>

#include "testobj.h"

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

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/* Is p (a node's field) a list of nodes rather than a node? */
static bool is_list(const void *p)
{
	return p && rcl_typeof(p) == &rcl_list_type;
}

/* What a field leads to: the node, or a random node of the list. */
static node *follow(node *p)
{
	size_t len;

	if (!is_list(p))
		return p;
	len = rcl_list_len((rcl_list *)p);
	return len ? rcl_list_get((rcl_list *)p, rnd((uint32_t)len)) : NULL;
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

/* Mark what the roots reach, by the test's own depth-first search (lists
 * are seen through, and each list's items pushed). */
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

			if (!is_list(f)) {
				if (f)
					stack[top++] = f;
				continue;
			}
			for (size_t j = 0; j < rcl_list_len((rcl_list *)f); j++)
				stack[top++] = rcl_list_get((rcl_list *)f, j);
		}
	}
}

/* A list of up to 3 reachable nodes (maybe none), in a field of a reachable
 * node, where it may close cycles through the list. */
static void store_list(rcl_heap *h, node **roots)
{
	node *src = walk(roots);
	rcl_list *l;

	if (!src)
		return;
	l = rcl_list_new(h, 0);
	assert_non_null(l);
	for (uint32_t k = rnd(4); k > 0; k--) {
		node *item = walk(roots);

		if (item)
			assert_int_equal(rcl_list_append(l, item), 0);
	}
	node_set(src, (int)rnd(NODE_FIELDS), (node *)l);
	rcl_decref(l);
}

static const size_t thresholds[][3] = {
    {1, 1, 1}, {3, 2, 2}, {10, 5, 3}, {700, 10, 10}, {0, 10, 10},
};

/* One random graph; returns how many objects the final collection found. */
static size_t run_graph(uint64_t seed)
{
	rcl_config cfg;
	node *roots[ROOTS] = {0};
	rcl_weakref *weak[MAXN] = {0};
	bool reach[MAXN] = {0};
	size_t n = 0, found;
	rcl_heap *h;

	rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	rcl_config_init(&cfg);
	memcpy(cfg.thresholds, thresholds[rnd(5)], sizeof(cfg.thresholds));
	cfg.young_bytes = rnd(2) ? 0 : 2000 + rnd(20000);
	h = rcl_heap_new(&cfg);
	memset(alive, 0, sizeof(alive));
	memset(finalized, 0, sizeof(finalized));

	for (int step = 0; step < STEPS; step++) {
		uint32_t op = rnd(12);

		if (op < 4) { /* a new node, stored in a root or a field */
			node *x = rcl_new(h, rnd(4) ? &ptype : &pftype);
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
			if (rnd(8) == 0)
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
	}

	for (int r = 0; r < ROOTS; r++)
		if (roots[r])
			mark(roots[r], reach);
	for (size_t i = 0; i < n; i++)
		if (reach[i] && !alive[i])
			fail_msg("seed %llu: reachable node %zu was freed",
				 (unsigned long long)seed, i);
	found = rcl_collect(h, 2);
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
	rcl_stats st;
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
		found += run_graph(seed);
	/* the workload really produces cyclic garbage */
	assert_true(found > GRAPHS);
	printf("# %d graphs, %zu unreachable objects found by the final "
	       "collections\n",
	       GRAPHS, found);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_graphs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
