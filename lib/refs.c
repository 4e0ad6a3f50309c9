/*
 * Reference layouts (rcl_ref in <reclaim/heap.h>): a type's references
 * described by where they are, so the collector walks them itself (gc.c,
 * for_each_ref) and the library derives the type's traverse and clear.
 * This file checks a description once per heap and type (at the type's
 * first object), and gives the derived traverse and clear.
 */
#include <errno.h>

#include "internal.h"

/* Whether one entry is well formed for a type of size bytes; the bytes of
 * the object it reads into *extent (at least). */
static bool ref_ok(const rcl_ref *r, size_t size, size_t *extent)
{
	size_t ptr = sizeof(void *), len = sizeof(size_t), end;

	if (r->offset % ptr != 0)
		return false;
	switch (r->kind) {
	case RCL_REF_FIELD:
		end = (size_t)r->offset + ptr;
		break;
	case RCL_REF_ARRAY: /* the items may run past size: rcl_new_var */
		if (r->len_offset % len != 0 || r->offset > size)
			return false;
		end = (size_t)r->len_offset + len;
		if (end < r->offset)
			end = r->offset;
		break;
	case RCL_REF_VECTOR:
		if (r->len_offset % len != 0)
			return false;
		end = (size_t)r->len_offset + len;
		if (end < (size_t)r->offset + ptr)
			end = (size_t)r->offset + ptr;
		break;
	default:
		return false;
	}
	if (end > size)
		return false;
	if (end > *extent)
		*extent = end;
	return true;
}

/* The walk for a well-formed table: a shape of its own for up to four
 * fields or a single array, the table for the rest. */
static void plan(rcl_tinfo *ti, const rcl_type *t)
{
	size_t i;

	for (i = 0; i < t->nrefs && i < 4; i++) {
		if (t->refs[i].kind != RCL_REF_FIELD)
			break;
		ti->off[i] = t->refs[i].offset;
	}
	if (i == t->nrefs) {
		ti->walk = (uint8_t)(WALK_F1 + i - 1);
		return;
	}
	if (t->nrefs == 1) {
		ti->walk = t->refs[0].kind == RCL_REF_ARRAY ? WALK_ARRAY
							    : WALK_VECTOR;
		ti->off[0] = t->refs[0].offset;
		ti->off[1] = t->refs[0].len_offset;
		return;
	}
	ti->walk = WALK_REFS;
}

/* Check the description of ti's type and choose how the collector walks
 * it; 0 with the bytes an object must have at least in ti->extent, or -1
 * with EINVAL. */
int refs_compile(rcl_tinfo *ti)
{
	const rcl_type *t = ti->type;

	ti->extent = 0;
	ti->walk = t->traverse != NULL ? WALK_TRAVERSE : WALK_NONE;
	if (t->nrefs == 0)
		return 0;
	if (t->refs == NULL)
		goto bad;
	for (size_t i = 0; i < t->nrefs; i++) {
		if (!ref_ok(&t->refs[i], t->size, &ti->extent))
			goto bad;
	}
	plan(ti, t);
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* The items of an array entry of obj, and how many. */
static void *const *ref_items(const rcl_ref *r, void *obj, size_t *n)
{
	char *base = obj;

	*n = *(size_t *)(base + r->len_offset);
	if (r->kind == RCL_REF_ARRAY)
		return (void *const *)(base + r->offset);
	return *(void *const *)(base + r->offset);
}

/* The derived traverse: each non-NULL reference, with its entry's name. */
void refs_traverse(const rcl_type *t, void *obj, rcl_visit_fn visit,
		   void *arg)
{
	for (size_t i = 0; i < t->nrefs; i++) {
		const rcl_ref *r = &t->refs[i];
		const char *name = r->name != NULL ? r->name : "?";
		void *const *items;
		size_t n;

		if (r->kind == RCL_REF_FIELD) {
			void *c = *(void **)((char *)obj + r->offset);

			if (c != NULL)
				visit(c, name, arg);
			continue;
		}
		items = ref_items(r, obj, &n);
		for (size_t k = 0; k < n; k++) {
			if (items[k] != NULL)
				visit(items[k], name, arg);
		}
	}
}

/*
 * The derived clear: each field set to NULL, and each length to 0, before
 * the references it held are dropped, and a second call finds nothing. The items of an
 * array are dropped from where they are, the array left as it was but for
 * its length: its memory is the type's (a vector's to free in destroy).
 *
 * IMPORTANT: no user code runs while this loops. A decref that frees an
 * object queues it on the heap's trash (dealloc_depth > 0: inside a
 * deallocation, or rcl_clear(), which holds it), or, in a collection's
 * delete, frees a member whose clear has run (its destroy runs: it may not
 * touch managed references). So nothing can change the array under it,
 * and it reads each item once with no store: a collection spends much of
 * its time here (measured: the one-at-a-time form, rereading the length
 * and the array and emptying each slot, made the Node.tree collection 45%
 * slower).
 */
/* Empty obj's described fields (NULL) and arrays (length 0) without
 * dropping what they held: for a collection that frees everything they
 * reach (gc.c, delete_closed), before the type's destroy. */
void refs_forget(const rcl_tinfo *ti, void *obj)
{
	const rcl_type *t = ti->type;
	char *base = obj;

	for (size_t i = 0; i < t->nrefs; i++) {
		const rcl_ref *r = &t->refs[i];

		if (r->kind == RCL_REF_FIELD)
			*(void **)(base + r->offset) = NULL;
		else
			*(size_t *)(base + r->len_offset) = 0;
	}
}

/* Empty a field, then drop what it held. */
static inline void take_field(void *field)
{
	void **slot = field;
	void *c = *slot;

	*slot = NULL;
	rcl_decref(c);
}

/* Set an array's length to 0, then drop its items. */
static inline void take_array(char *base, bool inside, uint32_t off,
			      uint32_t len_off)
{
	size_t *len = (size_t *)(base + len_off), n = *len;
	void *const *items = inside ? (void *const *)(base + off)
				    : *(void *const *)(base + off);

	*len = 0;
	for (size_t k = 0; k < n; k++)
		rcl_decref(items[k]);
}

void refs_clear(const rcl_tinfo *ti, void *obj)
{
	const rcl_type *t = ti->type;
	char *base = obj;

	switch (ti->walk) { /* as the collector walks it: see internal.h */
	case WALK_F4:
		take_field(base + ti->off[3]);
		/* fall through */
	case WALK_F3:
		take_field(base + ti->off[2]);
		/* fall through */
	case WALK_F2:
		take_field(base + ti->off[1]);
		/* fall through */
	case WALK_F1:
		take_field(base + ti->off[0]);
		return;
	case WALK_ARRAY:
	case WALK_VECTOR:
		take_array(base, ti->walk == WALK_ARRAY, ti->off[0],
			   ti->off[1]);
		return;
	}
	for (size_t i = 0; i < t->nrefs; i++) {
		const rcl_ref *r = &t->refs[i];

		if (r->kind == RCL_REF_FIELD)
			take_field(base + r->offset);
		else
			take_array(base, r->kind == RCL_REF_ARRAY, r->offset,
				   r->len_offset);
	}
}
