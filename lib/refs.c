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

/* Check t's description; 0 with the bytes an object of t must have at
 * least in *extent, or -1 with EINVAL. */
int refs_check(const rcl_type *t, size_t *extent)
{
	*extent = 0;
	if (t->nrefs != 0 && t->refs == NULL)
		goto bad;
	for (size_t i = 0; i < t->nrefs; i++) {
		if (!ref_ok(&t->refs[i], t->size, extent))
			goto bad;
	}
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
 * The derived clear: each reference is taken out of the object before it
 * is dropped, so code that a decref runs (a finalizer) sees a consistent
 * object. An array shrinks from its end one item at a time, its length
 * and (for a vector) its pointer read again each time: that code may even
 * add to it, and what it adds is dropped too. A second call finds nothing.
 */
void refs_clear(const rcl_type *t, void *obj)
{
	char *base = obj;

	for (size_t i = 0; i < t->nrefs; i++) {
		const rcl_ref *r = &t->refs[i];
		size_t *len = (size_t *)(base + r->len_offset);
		void **slot;
		void *c;

		if (r->kind == RCL_REF_FIELD) {
			slot = (void **)(base + r->offset);
			c = *slot;
			*slot = NULL;
			rcl_decref(c);
			continue;
		}
		while (*len > 0) {
			slot = r->kind == RCL_REF_ARRAY
				   ? (void **)(base + r->offset)
				   : *(void ***)(base + r->offset);
			c = slot[--*len];
			slot[*len] = NULL;
			rcl_decref(c);
		}
	}
}
