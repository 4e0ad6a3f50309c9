/*
 * A service that caches, as a user of reclaimd writes it: each request adds
 * small objects to a per-worker cache that lives on, and leaves a little
 * cyclic garbage besides. tests/bench/run.d/60-cache serves it with
 * heap.incremental off and on, side by side.
 *
 *	GET /user/cache[?n=200&cap=3000000&layout=ring]
 *
 * Each request makes n Entry objects, each referencing the one made before
 * it in the same request (a bucket's chain, at most n long), and puts them
 * in the worker's cache of cap entries (3 M by default); once it is full,
 * the oldest entries are dropped. Then one Entry pair that references itself
 * (a <-> b) is made and dropped: cyclic garbage, which only the collector
 * frees.
 *
 * layout says how the worker keeps its cache:
 *
 *	ring	a C array of strong references, a ring of cap entries (the
 *		default);
 *	list	one rcl_list, made on the worker's heap at its first request
 *		and held from a C static, used as a ring: appended to until it
 *		holds cap entries, then the oldest slot is rcl_list_set;
 *	map	one rcl_map keyed by the entry's key in decimal; once it holds
 *		cap entries, the oldest key (key - cap) is deleted before the
 *		new one is set.
 *
 * A worker keeps the layout its first request asked for: a request asking
 * another is refused with 400, and so is a layout not named above.
 *
 * Why the layouts differ for the collector: a C array holds each entry from
 * outside the heap, so the collector sees 3 M small objects, none reaching
 * more than its chain. One heap list or map holding all 3 M reaches the
 * whole cache from one object: a collector that takes increments closed
 * under references (CPython 3.13's) walks the whole heap in the increment
 * that takes it. libreclaim's increments walk the container's items a
 * slice at a time instead (its references are described, rcl_ref), so
 * list and map stay bounded too; they are the hard case, ring the easy
 * one. The map is slow for its own reasons besides: deleting the oldest
 * key leaves tombstones, and once they fill the table it is rebuilt, 3 M
 * entries in one rcl_map_set.
 *
 *	cc -shared -fPIC -o growing_cache.so growing_cache.c $(pkg-config --cflags reclaim)
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <reclaim/types.h>
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

/* How a worker keeps its cache (see the opening comment). */
enum layout {
	LAYOUT_NONE, /* no cache made yet */
	LAYOUT_RING,
	LAYOUT_LIST,
	LAYOUT_MAP,
};

static const char *const layout_names[] = {
    [LAYOUT_RING] = "ring",
    [LAYOUT_LIST] = "list",
    [LAYOUT_MAP] = "map",
};

/* One worker's cache: only that worker's thread touches it. */
struct cache {
	enum layout layout;
	struct entry **ring; /* ring: cap strong references */
	rcl_list *list;	     /* list: a strong reference, made with the cache */
	rcl_map *map;	     /* map: likewise */
	size_t cap;
	size_t next; /* ring, list: the slot the next entry takes (the oldest,
		      * when full) */
	uint64_t keys;
};

static struct cache caches[MAX_WORKERS];

/* The layout named by the request's layout argument (ring when absent), or
 * LAYOUT_NONE for a name that is none of them. */
static enum layout parse_layout(const rcl_runner *r)
{
	const char *name = rcl_runner_arg(r, "layout");

	if (name == NULL)
		return LAYOUT_RING;
	for (enum layout l = LAYOUT_RING; l <= LAYOUT_MAP; l++) {
		if (strcmp(name, layout_names[l]) == 0)
			return l;
	}
	return LAYOUT_NONE;
}

/*
 * The worker's cache, made at its first request in the given layout; NULL
 * if out of memory. A cache already made keeps its layout: the caller
 * checks it against the one asked for.
 */
static struct cache *worker_cache(rcl_runner *r, enum layout layout,
				  size_t cap)
{
	int w = rcl_runner_worker(r);
	struct cache *c;

	if (w < 0 || w >= MAX_WORKERS)
		return NULL;
	c = &caches[w];
	if (c->layout != LAYOUT_NONE)
		return c;
	switch (layout) {
	case LAYOUT_RING:
		c->ring = calloc(cap, sizeof(*c->ring));
		if (c->ring == NULL)
			return NULL;
		break;
	case LAYOUT_LIST:
		/* Grown as it fills, as a user's list would be. */
		c->list = rcl_list_new(rcl_runner_heap(r), 0);
		if (c->list == NULL)
			return NULL;
		break;
	case LAYOUT_MAP:
		c->map = rcl_map_new(rcl_runner_heap(r));
		if (c->map == NULL)
			return NULL;
		break;
	case LAYOUT_NONE:
		return NULL;
	}
	c->layout = layout;
	c->cap = cap;
	return c;
}

/*
 * Put e in the cache, dropping the oldest entry when it is full. The cache
 * takes the caller's reference to e (the containers take one of their own,
 * and the caller's is dropped), on failure too. 0, or -1 if out of memory.
 */
static int cache_put(struct cache *c, struct entry *e)
{
	char key[24];
	int rc = 0;

	switch (c->layout) {
	case LAYOUT_RING:
		rcl_decref(c->ring[c->next]);
		c->ring[c->next] = e;
		c->next = (c->next + 1) % c->cap;
		return 0;
	case LAYOUT_LIST:
		if (rcl_list_len(c->list) < c->cap)
			rc = rcl_list_append(c->list, e);
		else
			rc = rcl_list_set(c->list, c->next, e);
		if (rc == 0)
			c->next = (c->next + 1) % c->cap;
		break;
	case LAYOUT_MAP:
		if (rcl_map_len(c->map) >= c->cap) {
			snprintf(key, sizeof(key), "%" PRIu64, e->key - c->cap);
			rcl_map_del(c->map, key);
		}
		snprintf(key, sizeof(key), "%" PRIu64, e->key);
		rc = rcl_map_set(c->map, key, e);
		break;
	case LAYOUT_NONE:
		rc = -1;
		break;
	}
	rcl_decref(e);
	return rc;
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
	enum layout layout;
	uint64_t n, cap;

	(void)frame;
	if (rcl_runner_arg_u64(r, "n", 200, 1, 100000, &n) < 0 ||
	    rcl_runner_arg_u64(r, "cap", 3000000, 1, 100000000, &cap) < 0)
		return RCL_STEP_FAIL;
	if ((layout = parse_layout(r)) == LAYOUT_NONE)
		return rcl_runner_fail(r, 400,
				       "layout: \"%s\" is not ring, list or map",
				       rcl_runner_arg(r, "layout"));
	if ((c = worker_cache(r, layout, (size_t)cap)) == NULL)
		return rcl_runner_fail(r, 503, "out of memory");
	if (c->layout != layout)
		return rcl_runner_fail(r, 400,
				       "layout: worker %d keeps its cache as a "
				       "%s, not a %s: a worker keeps the layout "
				       "of its first request for its life",
				       rcl_runner_worker(r),
				       layout_names[c->layout],
				       layout_names[layout]);
	for (uint64_t i = 0; i < n; i++) {
		struct entry *e = rcl_new(h, &entry_type);

		if (e == NULL)
			return rcl_runner_fail(r, 503, "out of memory");
		e->key = c->keys++;
		e->value = e->key * 2654435761u;
		e->prev = prev; /* a reference of its own */
		if (prev != NULL)
			rcl_incref(prev);
		/* The cache takes rcl_new's reference. From here prev is
		 * borrowed from the cache, which is safe: the next entry
		 * takes its own reference to prev before it is put, and so
		 * before the cache can drop prev. */
		if (cache_put(c, e) != 0)
			return rcl_runner_fail(r, 503, "out of memory");
		prev = e;
	}
	if (make_garbage(h) != 0)
		return rcl_runner_fail(r, 503, "out of memory");
	rcl_runner_write(r, "cached\n", 7);
	return RCL_STEP_DONE;
}

static const struct rcl_task_def cache_def = {
    .name = "user-cache",
    .description = "GET /user/cache[?n=200&cap=3000000&layout=ring]: n "
		   "small objects into a per-worker cache (ring, list or "
		   "map) that lives on, and a cycle of garbage",
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
