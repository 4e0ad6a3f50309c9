/*
 * Vectors of object pointers: each generation (and the permanent and
 * untracked sets) keeps its objects in one, each object knowing its index.
 * Removal leaves a hole unless the object was last; the heap compacts.
 */
#include <string.h>

#include "internal.h"

/* Make room for extra more pointers; false if memory is short. */
bool vec_reserve(rcl_heap *h, rcl_vec *v, size_t extra)
{
	size_t need = (size_t)v->n + extra, ncap;
	rcl_head **nv;

	if (need <= v->cap)
		return true;
	if (need > UINT32_MAX)
		return false;
	ncap = v->cap ? (size_t)v->cap * 2 : 64;
	if (ncap < need)
		ncap = need;
	if (ncap > UINT32_MAX)
		ncap = UINT32_MAX;
	nv = heap_raw_realloc(h, v->v, v->cap * sizeof(*nv),
			      ncap * sizeof(*nv));
	if (!nv)
		return false;
	v->v = nv;
	v->cap = (uint32_t)ncap;
	return true;
}

/* Append o, growing v first; false if memory is short. */
bool vec_push_slow(rcl_heap *h, rcl_vec *v, rcl_head *o)
{
	if (!vec_reserve(h, v, 1))
		return false;
	o->idx = v->n;
	v->v[v->n++] = o;
	return true;
}

/* Drop the holes at the end of v. */
void vec_pop_holes(rcl_vec *v)
{
	while (v->n && !v->v[v->n - 1]) {
		v->n--;
		v->holes--;
	}
}

/* Close the holes, renumbering the objects that move; the cursor and the
 * limit keep their places among them (what was below stays below). */
void vec_compact(rcl_vec *v)
{
	uint32_t j = 0, cursor = 0, limit = 0;

	if (!v->holes)
		return;
	if (v->holes == v->n) { /* all gone: freed, or promoted */
		v->n = v->holes = v->cursor = v->limit = 0;
		return;
	}
	for (uint32_t i = 0; i < v->n; i++) {
		rcl_head *o = v->v[i];

		if (!o)
			continue;
		if (i < v->cursor)
			cursor = j + 1;
		if (i < v->limit)
			limit = j + 1;
		o->idx = j;
		v->v[j++] = o;
	}
	v->n = j;
	v->holes = 0;
	v->cursor = cursor;
	v->limit = limit;
}

/* Give back memory when the vector is mostly empty; the bytes returned. */
size_t vec_shrink(rcl_heap *h, rcl_vec *v)
{
	size_t ncap, old = v->cap;
	rcl_head **nv;

	vec_compact(v);
	if (v->cap <= 64 || (size_t)v->n * 2 >= v->cap)
		return 0;
	ncap = v->n > 32 ? (size_t)v->n * 2 : 64;
	nv = heap_raw_alloc(h, ncap * sizeof(*nv));
	if (!nv)
		return 0; /* keep the larger one */
	if (v->n)
		memcpy(nv, v->v, v->n * sizeof(*nv));
	heap_raw_free(h, v->v, old * sizeof(*nv));
	v->v = nv;
	v->cap = (uint32_t)ncap;
	return (old - ncap) * sizeof(*nv);
}

void vec_free(rcl_heap *h, rcl_vec *v)
{
	heap_raw_free(h, v->v, v->cap * sizeof(*v->v));
	memset(v, 0, sizeof(*v));
}
