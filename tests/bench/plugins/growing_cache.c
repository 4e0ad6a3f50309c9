/*
 * A service that caches, as a user of reclaimd writes it: each request adds
 * small objects to a per-worker cache that lives on, and leaves a little
 * cyclic garbage besides. tests/bench/run.d/60-cache serves it with
 * heap.incremental off and on, side by side (issue 19).
 *
 *	GET /user/cache[?n=200&cap=3000000]
 *
 * Each request makes n Entry objects, each referencing the one made before
 * it in the same request (a bucket's chain, at most n long), and puts them
 * in the worker's cache: a C array of strong references, a ring of cap
 * entries a worker (3 M by default); once it is full, the oldest entries
 * are dropped. Then one Entry pair that references itself (a <-> b) is
 * made and dropped: cyclic garbage, which only the collector frees.
 *
 * Why a C array and not a heap container: a C array holds each entry from
 * outside the heap, so the collector sees 3 M small objects, none reaching
 * more than its chain; an increment takes a slice of them with what they
 * reach (n at most) and stays bounded. One heap list holding all 3 M would
 * reach the whole cache from one object, and the increment that took it
 * would walk the whole heap (counted in heap.increments_oversized_total).
 *
 *	cc -shared -fPIC -o growing_cache.so growing_cache.c $(pkg-config --cflags reclaim)
 */
#include <stdint.h>
#include <stdlib.h>

#include <reclaimd/task.h>

#define MAX_WORKERS 256

struct entry {
	struct entry *prev; /* the entry made before it in its request */
	uint64_t key;
	uint64_t value;
};

static const rcl_type entry_type = {
    .name = "Entry",
    .size = sizeof(struct entry),
    RCL_REFS(RCL_REF(struct entry, prev)),
};

/* One worker's cache: only that worker's thread touches it. */
struct cache {
	struct entry **ring;
	size_t cap;
	size_t next; /* the slot the next entry takes (the oldest, when full) */
	uint64_t keys;
};

static struct cache caches[MAX_WORKERS];

/* The worker's cache, made at its first request; NULL if out of memory. */
static struct cache *worker_cache(rcl_runner *r, size_t cap)
{
	int w = rcl_runner_worker(r);
	struct cache *c;

	if (w < 0 || w >= MAX_WORKERS)
		return NULL;
	c = &caches[w];
	if (c->ring == NULL) {
		c->ring = calloc(cap, sizeof(*c->ring));
		c->cap = c->ring ? cap : 0;
	}
	return c->ring ? c : NULL;
}

/* Put e in the ring, dropping the oldest entry when it is full. */
static void cache_put(struct cache *c, struct entry *e)
{
	rcl_decref(c->ring[c->next]);
	c->ring[c->next] = e;
	c->next = (c->next + 1) % c->cap;
}

/* A little cyclic garbage: a <-> b, dropped. */
static int make_garbage(rcl_heap *h)
{
	struct entry *a = rcl_new(h, &entry_type), *b = rcl_new(h, &entry_type);

	if (a == NULL || b == NULL) {
		rcl_decref(a);
		rcl_decref(b);
		return -1;
	}
	/* each takes the other's reference from rcl_new: nobody else holds
	 * either */
	a->prev = b;
	b->prev = a;
	return 0;
}

static enum rcl_step cache_step(rcl_runner *r, void *frame)
{
	rcl_heap *h = rcl_runner_heap(r);
	struct entry *prev = NULL;
	struct cache *c;
	uint64_t n, cap;

	(void)frame;
	if (rcl_runner_arg_u64(r, "n", 200, 1, 100000, &n) < 0 ||
	    rcl_runner_arg_u64(r, "cap", 3000000, 1, 100000000, &cap) < 0)
		return RCL_STEP_FAIL;
	if ((c = worker_cache(r, (size_t)cap)) == NULL)
		return rcl_runner_fail(r, 503, "out of memory");
	for (uint64_t i = 0; i < n; i++) {
		struct entry *e = rcl_new(h, &entry_type);

		if (e == NULL)
			return rcl_runner_fail(r, 503, "out of memory");
		e->key = c->keys++;
		e->value = e->key * 2654435761u;
		e->prev = prev; /* a reference of its own */
		if (prev != NULL)
			rcl_incref(prev);
		cache_put(c, e); /* the ring takes rcl_new's reference */
		prev = e;
	}
	if (make_garbage(h) != 0)
		return rcl_runner_fail(r, 503, "out of memory");
	rcl_runner_write(r, "cached\n", 7);
	return RCL_STEP_DONE;
}

static const struct rcl_task_def cache_def = {
    .name = "user-cache",
    .description = "GET /user/cache[?n=200&cap=3000000]: n small objects "
		   "into a per-worker cache that lives on, and a cycle of "
		   "garbage",
    .kind = RCL_TASK_REQUEST,
    .route = "/user/cache",
    .step = cache_step,
};

static int register_tasks(rcl_registry *reg, char **cause)
{
	return rcl_registry_add(reg, &cache_def, cause);
}

RCL_PLUGIN("growing-cache", "a per-worker cache that grows, as a user "
	   "writes it", register_tasks);
