/*
 * The standard list's layout, shared by lib/types/list.c and the collector,
 * which walks a list's items itself (lib/gc.c) instead of through an
 * indirect call per item: a list is the most common container.
 */
#ifndef RECLAIM_LIST_INTERNAL_H
#define RECLAIM_LIST_INTERNAL_H

#include <stddef.h>

struct rcl_list {
	void *
	    *items; /* cap slots from rcl_owned_alloc, or NULL when cap is 0 */
	size_t len;
	size_t cap;
};

/* The items of the list self, and how many. */
static inline void *const *list_items(const void *self, size_t *len)
{
	const struct rcl_list *l = self;

	*len = l->len;
	return (void *const *)l->items;
}

#endif
