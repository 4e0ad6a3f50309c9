/*
 * Reference layouts (rcl_ref): types that describe their references are
 * collected like any other, report their fields by name, get a derived
 * clear, and a bad description is refused with EINVAL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <reclaim/reclaim.h>
#include "unit.h"

/* The write-up's Node, as a user would write it in C. */
typedef struct kids kids;
typedef struct tnode {
	struct tnode *parent;
	kids *children;
	int *destroyed;
} tnode;

struct kids {
	size_t n;
	tnode *item[];
};

/* A vector of nodes kept outside the object, as a growable array is. */
typedef struct bag {
	tnode **items;
	size_t len;
	size_t cap;
} bag;

/* Destroys that saw a reference still in a field: a cleared object's
 * destroy must not (the collector's delete of a closed set empties the
 * fields without dropping them, as a clear would have). */
static int dirty_destroys;

static void tnode_destroy(void *self)
{
	tnode *t = self;

	if (t->destroyed)
		(*t->destroyed)++;
	if (t->parent != NULL || t->children != NULL)
		dirty_destroys++;
}

static const rcl_type tnode_type = {
    .name = "Node",
    .size = sizeof(tnode),
    .destroy = tnode_destroy,
    RCL_REFS(RCL_REF(tnode, parent), RCL_REF(tnode, children)),
};

static const rcl_type kids_type = {
    .name = "Kids",
    .size = sizeof(kids),
    RCL_REFS(RCL_REF_ARRAY(kids, item, n)),
};

static void bag_destroy(void *self)
{
	bag *b = self;

	free(b->items);
}

static const rcl_type bag_type = {
    .name = "Bag",
    .size = sizeof(bag),
    .destroy = bag_destroy,
    RCL_REFS(RCL_REF_VECTOR(bag, items, len)),
};

/* Edges as rcl_traverse reports them. */
struct edges {
	int n;
	void *child[8];
	const char *field[8];
};

static void record(void *child, const char *field, void *arg)
{
	struct edges *e = arg;

	if (e->n < 8) {
		e->child[e->n] = child;
		e->field[e->n] = field;
	}
	e->n++;
}

/* A node with n children, each pointing back: 2 + n objects in cycles. */
static tnode *family(rcl_heap *h, size_t n, int *destroyed)
{
	tnode *p = rcl_new(h, &tnode_type);
	kids *k = rcl_new_var(h, &kids_type, sizeof(kids) + n * sizeof(tnode *));

	assert_non_null(p);
	assert_non_null(k);
	p->destroyed = destroyed;
	p->children = k;
	for (size_t i = 0; i < n; i++) {
		tnode *c = rcl_new(h, &tnode_type);

		assert_non_null(c);
		c->destroyed = destroyed;
		c->parent = p;
		rcl_incref(p);
		k->item[k->n++] = c;
	}
	return p;
}

/* Cycles through fields and inline arrays are found and freed; the
 * derived traverse names each field; collected counts match. */
static void test_described_cycles(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	int destroyed = 0;
	struct edges e = {0};
	tnode *p;

	rcl_auto_collect(h, false);
	p = family(h, 3, &destroyed);
	assert_true(rcl_is_tracked(p));
	rcl_traverse(p, record, &e);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.field[0], "children");
	memset(&e, 0, sizeof e);
	rcl_traverse(p->children, record, &e);
	assert_int_equal(e.n, 3);
	assert_string_equal(e.field[2], "item");
	memset(&e, 0, sizeof e);
	rcl_traverse(p->children->item[0], record, &e);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.field[0], "parent");
	assert_ptr_equal(e.child[0], p);
	rcl_decref(p);
	assert_int_equal(destroyed, 0);
	assert_int_equal(rcl_collect(h, 2), 5);
	assert_int_equal(destroyed, 4);
	assert_int_equal(dirty_destroys, 0);
	assert_true(rcl_heap_validate(h));
	/* garbage that holds an older object: not a closed set, so its
	 * references are dropped (the older one's count comes back down) */
	tnode *old = rcl_new(h, &tnode_type);

	rcl_collect(h, 2); /* old is in the oldest generation now */
	p = family(h, 3, &destroyed);
	p->parent = old;
	rcl_incref(old);
	rcl_decref(p);
	assert_int_equal(rcl_refcount(old), 2);
	assert_int_equal(rcl_collect(h, 0), 5);
	assert_int_equal(destroyed, 8);
	assert_int_equal(rcl_refcount(old), 1);
	assert_int_equal(dirty_destroys, 0);
	rcl_decref(old);
	rcl_heap_destroy(h);
}

/* A vector's items: found, cleared by the derived clear one at a time,
 * and what is reachable from outside survives. */
static void test_vector(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	int destroyed = 0;
	bag *b = rcl_new(h, &bag_type);
	tnode *kept;

	rcl_auto_collect(h, false);
	b->cap = 4;
	b->items = calloc(b->cap, sizeof(tnode *));
	for (int i = 0; i < 4; i++) {
		tnode *n = rcl_new(h, &tnode_type);

		n->destroyed = &destroyed;
		b->items[b->len++] = n;
		/* each node's children field holds the bag: a cycle */
		n->children = (kids *)b;
		rcl_incref(b);
	}
	kept = b->items[2];
	rcl_incref(kept);
	rcl_decref(b);
	rcl_collect(h, 2);
	/* kept holds the bag, which holds every node: nothing is garbage */
	assert_int_equal(destroyed, 0);
	rcl_clear(kept); /* drops kept's reference to the bag: all garbage */
	rcl_decref(kept);
	rcl_collect(h, 2);
	assert_int_equal(destroyed, 4);
	assert_true(rcl_heap_validate(h));
	rcl_heap_destroy(h);
}

/* The derived clear empties the object before each decref: fields NULL,
 * lengths 0; a second call finds nothing. */
static void test_derived_clear(void **state)
{
	rcl_heap *h = rcl_heap_new(NULL);
	int destroyed = 0;
	tnode *p = family(h, 2, &destroyed);
	kids *k = p->children;
	struct edges e = {0};

	rcl_incref(k);
	rcl_clear(p);
	assert_null(p->children);
	rcl_clear(k);
	assert_int_equal(k->n, 0);
	rcl_traverse(k, record, &e);
	assert_int_equal(e.n, 0);
	rcl_clear(k); /* idempotent */
	assert_int_equal(destroyed, 2); /* the children: only k held them */
	rcl_decref(k);
	rcl_decref(p);
	assert_int_equal(destroyed, 3);
	rcl_heap_destroy(h);
}

/* Descriptions that are not well formed (at file scope: RCL_REFS's table
 * is a compound literal, static only there). */
static const rcl_type misaligned = {
    .name = "misaligned",
    .size = 32,
    RCL_REFS({"x", RCL_REF_FIELD, 3, 0}),
};
static const rcl_type past_size = {
    .name = "past",
    .size = 16,
    RCL_REFS({"x", RCL_REF_FIELD, 16, 0}),
};
static const rcl_type bad_kind = {
    .name = "kind",
    .size = 16,
    RCL_REFS({"x", 7, 0, 8}),
};
static const rcl_type bad_len = {
    .name = "len",
    .size = 16,
    RCL_REFS({"x", RCL_REF_ARRAY, 16, 12}),
};
static const rcl_type no_table = {
    .name = "none", .size = 16, .refs = NULL, .nrefs = 2};

/* Bad descriptions: EINVAL from rcl_new, nothing allocated; rcl_new_var
 * too small for the described fields: EINVAL. */
static void test_bad_descriptions(void **state)
{
	const rcl_type *bad[] = {&misaligned, &past_size, &bad_kind, &bad_len,
				 &no_table};
	rcl_heap *h = rcl_heap_new(NULL);
	rcl_stats st;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		assert_null(rcl_new(h, bad[i]));
		assert_int_equal(errno, EINVAL);
	}
	errno = 0;
	assert_null(rcl_new_var(h, &tnode_type, 8)); /* children past 8 */
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(rcl_new_var(h, &kids_type, 4)); /* n past 4 */
	assert_int_equal(errno, EINVAL);
	rcl_heap_stats(h, &st);
	assert_int_equal(st.objects, 0);
	rcl_heap_destroy(h);
}

/* A type with zero refs and no traverse holds nothing: untracked. */
static void test_no_refs_untracked(void **state)
{
	static const rcl_type plain = {.name = "plain", .size = 8};
	rcl_heap *h = rcl_heap_new(NULL);
	void *o = rcl_new(h, &plain);

	assert_non_null(o);
	assert_false(rcl_is_tracked(o));
	rcl_decref(o);
	rcl_heap_destroy(h);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_described_cycles),
	    cmocka_unit_test(test_vector),
	    cmocka_unit_test(test_derived_clear),
	    cmocka_unit_test(test_bad_descriptions),
	    cmocka_unit_test(test_no_refs_untracked),
	};

	return unit_run(argc, argv, tests);
}
