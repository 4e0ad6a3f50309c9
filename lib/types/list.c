/* list: a growable array of references; the array is owned memory. */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <reclaim/types.h>

struct rcl_list {
	void *
	    *items; /* cap slots from rcl_owned_alloc, or NULL when cap is 0 */
	size_t len;
	size_t cap;
};

#define LIST_MAX_CAP (SIZE_MAX / sizeof(void *))

/*
 * Drop every item and the array. The list is emptied before any decref, so
 * code that a decref runs (a finalizer) sees an empty, consistent list and
 * may even append to it; a second call finds nothing to do.
 */
static __attribute__((noinline)) void list_clear(void *self)
{
	struct rcl_list *l = self;
	void **items = l->items;
	size_t len = l->len, cap = l->cap, i;

	l->items = NULL;
	l->len = 0;
	l->cap = 0;
	for (i = 0; i < len; i++)
		rcl_decref(items[i]);
	if (items != NULL)
		rcl_owned_free(l, items, cap * sizeof(void *));
}

/* At free: the array given back, with any items still in it (the derived
 * clear, which ran first, left it empty but for what was stored since).
 * (list_clear is not inlined here, so that the usual case, nothing, saves
 * no registers.) */
static void list_destroy(void *self)
{
	struct rcl_list *l = self;

	if (l->items != NULL)
		list_clear(self);
}

/* Its items described (field "[]"): the collector walks them itself, as it
 * does any described type's, and clears them (len 0); destroy gives back
 * the array. */
const rcl_type rcl_list_type = {
    .name = "list",
    .size = sizeof(struct rcl_list),
    .destroy = list_destroy,
    RCL_REFS({"[]", RCL_REF_VECTOR, offsetof(struct rcl_list, items),
	      offsetof(struct rcl_list, len)}),
};

/* Grow the array to hold at least one more item; 0, or -1 with ENOMEM and the
 * list unchanged. */
static int list_grow(struct rcl_list *l)
{
	size_t cap;
	void **items;

	if (l->cap >= LIST_MAX_CAP) {
		errno = ENOMEM;
		return -1;
	}
	/* 1.5x, as amortised appends need, without doubling big lists. */
	cap = l->cap + l->cap / 2 + 4;
	if (cap > LIST_MAX_CAP || cap < l->cap)
		cap = LIST_MAX_CAP;
	/* The allocation may collect, and a finalizer may change this list:
	 * read it only after the allocation returns. */
	items = rcl_owned_alloc(l, cap * sizeof(void *));
	if (items == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (l->len >= cap) {
		/* It grew past us meanwhile; let the caller look again. */
		rcl_owned_free(l, items, cap * sizeof(void *));
		return 0;
	}
	if (l->len > 0)
		memcpy(items, l->items, l->len * sizeof(void *));
	if (l->items != NULL)
		rcl_owned_free(l, l->items, l->cap * sizeof(void *));
	l->items = items;
	l->cap = cap;
	return 0;
}

/* An empty list with room for capacity items, or NULL. */
rcl_list *rcl_list_new_at(rcl_heap *h, size_t capacity, const rcl_site *site)
{
	struct rcl_list *l;

	if (h == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (capacity > LIST_MAX_CAP) {
		errno = ENOMEM;
		return NULL;
	}
	l = rcl_new_at(h, &rcl_list_type, site);
	if (l == NULL || capacity == 0)
		return l;
	l->items = rcl_owned_alloc(l, capacity * sizeof(void *));
	if (l->items == NULL) {
		rcl_decref(l);
		errno = ENOMEM;
		return NULL;
	}
	l->cap = capacity;
	return l;
}

/* Append item (increfed); 0, or -1 with errno and the list unchanged. */
int rcl_list_append(rcl_list *l, void *item)
{
	if (l == NULL) {
		errno = EINVAL;
		return -1;
	}
	while (l->len == l->cap) {
		if (list_grow(l) < 0)
			return -1;
	}
	rcl_incref(item);
	l->items[l->len++] = item;
	return 0;
}

/* Item i, borrowed; NULL with EINVAL or ERANGE on a bad list or index. */
void *rcl_list_get(const rcl_list *l, size_t i)
{
	if (l == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (i >= l->len) {
		errno = ERANGE;
		return NULL;
	}
	return l->items[i];
}

/* Replace item i (the new one increfed, the old one decrefed); 0 or -1. */
int rcl_list_set(rcl_list *l, size_t i, void *item)
{
	void *old;

	if (l == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (i >= l->len) {
		errno = ERANGE;
		return -1;
	}
	/* Store before the decref: it may run code that reads the list. */
	old = l->items[i];
	rcl_incref(item);
	l->items[i] = item;
	rcl_decref(old);
	return 0;
}

/* Remove the last item and hand its reference to the caller; NULL with
 * ERANGE when empty (check rcl_list_len() if NULL items are stored). */
void *rcl_list_pop(rcl_list *l)
{
	if (l == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (l->len == 0) {
		errno = ERANGE;
		return NULL;
	}
	return l->items[--l->len];
}

/* The number of items; 0 for NULL. */
size_t rcl_list_len(const rcl_list *l)
{
	return l != NULL ? l->len : 0;
}

/* Remove every item (each decrefed) and release the array. */
void rcl_list_clear(rcl_list *l)
{
	if (l != NULL)
		list_clear(l);
}

/* Without a site (see <reclaim/types.h>). */
rcl_list *(rcl_list_new)(rcl_heap *h, size_t capacity)
{
	return rcl_list_new_at(h, capacity, NULL);
}
