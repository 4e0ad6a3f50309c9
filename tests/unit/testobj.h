/* Test object types shared by the unit tests: a node with a few reference
 * fields, counting its finalizations and destructions. */
#ifndef RECLAIM_TESTOBJ_H
#define RECLAIM_TESTOBJ_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <reclaim/heap.h>

#define NODE_FIELDS 4

typedef struct node {
	struct node *f[NODE_FIELDS];
	int id;
	int *destroyed;		      /* incremented by destroy */
	int *finalized;		      /* incremented by finalize */
	struct node **resurrect_into; /* finalize stores self here */
	void *payload;		      /* owned memory */
	size_t payload_size;
} node;

static const char *const node_field_names[NODE_FIELDS] = {"a", "b", "c", "d"};

static inline void node_traverse(void *self, rcl_visit_fn visit, void *arg)
{
	node *n = self;

	for (int i = 0; i < NODE_FIELDS; i++)
		if (n->f[i])
			visit(n->f[i], node_field_names[i], arg);
}

static inline void node_clear(void *self)
{
	node *n = self;

	for (int i = 0; i < NODE_FIELDS; i++) {
		node *c = n->f[i];

		n->f[i] = NULL;
		rcl_decref(c);
	}
}

static inline void node_finalize(void *self)
{
	node *n = self;

	if (n->finalized)
		(*n->finalized)++;
	if (n->resurrect_into && !*n->resurrect_into) {
		rcl_incref(n);
		*n->resurrect_into = n;
	}
}

static inline void node_destroy(void *self)
{
	node *n = self;

	if (n->destroyed)
		(*n->destroyed)++;
	if (n->payload)
		rcl_owned_free(n, n->payload, n->payload_size);
}

__attribute__((unused)) static const rcl_type node_type = {
    .name = "node",
    .size = sizeof(node),
    .traverse = node_traverse,
    .clear = node_clear,
    .destroy = node_destroy,
};

__attribute__((unused)) static const rcl_type fnode_type = {
    .name = "fnode",
    .size = sizeof(node),
    .traverse = node_traverse,
    .clear = node_clear,
    .finalize = node_finalize,
    .destroy = node_destroy,
};

/* Store a new reference to v in n->f[i], dropping the old one. */
static inline void node_set(node *n, int i, node *v)
{
	node *old = n->f[i];

	rcl_incref(v);
	n->f[i] = v;
	rcl_decref(old);
}

/* An allocator that fails once its budget of calls or bytes is spent. */
typedef struct budget {
	long calls_left;   /* < 0: unlimited */
	size_t bytes_left; /* SIZE_MAX: unlimited */
	size_t in_use;
	long failures;
} budget;

static inline void *budget_alloc(size_t size, void *ctx)
{
	budget *b = ctx;
	void *p;

	if (b->calls_left == 0 || size > b->bytes_left) {
		b->failures++;
		return NULL;
	}
	if (b->calls_left > 0)
		b->calls_left--;
	p = malloc(size);
	if (p) {
		if (b->bytes_left != SIZE_MAX)
			b->bytes_left -= size;
		b->in_use += size;
	}
	return p;
}

static inline void budget_free(void *p, size_t size, void *ctx)
{
	budget *b = ctx;

	if (b->bytes_left != SIZE_MAX)
		b->bytes_left += size;
	b->in_use -= size;
	free(p);
}

static inline rcl_heap *budget_heap(budget *b, size_t young_bytes)
{
	rcl_config cfg;

	rcl_config_init(&cfg);
	cfg.young_bytes = young_bytes;
	cfg.allocator.alloc = budget_alloc;
	cfg.allocator.free = budget_free;
	cfg.allocator.ctx = b;
	return rcl_heap_new(&cfg);
}

#endif
