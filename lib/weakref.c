/*
 * Weak references: managed objects of an untracked type that point at a
 * referent without keeping it alive. A referent's weak references form a
 * list whose head sits in the heap's weak map (headmap.c), keyed by the
 * referent, and the referent carries F_WEAK: objects without weak references (nearly all)
 * pay nothing for them, not even a pointer in their header.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

struct rcl_weakref {
	void *referent; /* NULL once the referent is freed */
	rcl_weak_cb cb;
	void *arg;
	rcl_weakref *next; /* the referent's list */
	rcl_weakref *prev;
	rcl_weakref *pending; /* callbacks waiting to run */
};

/* The first weak reference to o (which has F_WEAK). */
static rcl_weakref **list_of(rcl_heap *h, rcl_head *o)
{
	return (rcl_weakref **)&h->weak.vals[headmap_slot(&h->weak, o)];
}

/* Take w off its referent's list; the last one takes the referent out of
 * the map. */
static void detach(rcl_weakref *w)
{
	rcl_head *o;
	rcl_heap *h;

	if (!w->referent)
		return;
	o = HEAD(w->referent);
	h = o->ti->heap;
	if (w->prev) {
		w->prev->next = w->next;
	} else if (w->next) {
		*list_of(h, o) = w->next;
	} else {
		headmap_remove_at(&h->weak, headmap_slot(&h->weak, o));
		o->flags &= ~(uint32_t)F_WEAK;
	}
	if (w->next)
		w->next->prev = w->prev;
	w->next = w->prev = NULL;
	w->referent = NULL;
}

/* A weak reference that dies first leaves its referent's list. */
static void weakref_destroy(void *self)
{
	detach(self);
	HEAD(self)->ti->heap->weakrefs--;
}

static const rcl_type weakref_type = {
    .name = "weakref",
    .size = sizeof(rcl_weakref),
    .destroy = weakref_destroy,
};

/* A weak reference to referent, on its heap. */
rcl_weakref *rcl_weakref_new(void *referent, rcl_weak_cb cb, void *arg)
{
	rcl_weakref *w, **first;
	rcl_head *o;
	rcl_heap *h;

	if (!referent) {
		errno = EINVAL;
		return NULL;
	}
	o = HEAD(referent);
	h = o->ti->heap;
	w = rcl_new(h, &weakref_type);
	if (!w)
		return NULL;
	if (!(o->flags & F_WEAK)) {
		if (!headmap_grow(h, &h->weak)) {
			rcl_decref(w);
			errno = ENOMEM;
			return NULL;
		}
		headmap_put(&h->weak, o, 0);
		o->flags |= F_WEAK;
	}
	h->weakrefs++;
	w->referent = referent;
	w->cb = cb;
	w->arg = arg;
	first = list_of(h, o);
	w->next = *first;
	if (w->next)
		w->next->prev = w;
	*first = w;
	return w;
}

/* The referent as a new reference, or NULL once it is freed. */
void *rcl_weakref_get(rcl_weakref *w)
{
	if (!w || !w->referent)
		return NULL;
	rcl_incref(w->referent);
	return w->referent;
}

bool rcl_weakref_alive(const rcl_weakref *w)
{
	return w && w->referent;
}

/*
 * Clear every weak reference to o; those with a callback are pinned and
 * pushed on *callbacks, to run once every reference in reach is cleared.
 */
void weakref_clear_all(rcl_head *o, rcl_weakref **callbacks)
{
	rcl_heap *h = o->ti->heap;

	while (o->flags & F_WEAK) {
		rcl_weakref *w = *list_of(h, o);

		detach(w);
		if (w->cb) {
			rcl_incref(w);
			w->pending = *callbacks;
			*callbacks = w;
		}
	}
}

/* Run the callbacks collected by weakref_clear_all() and unpin them. */
void weakref_run_callbacks(rcl_weakref *callbacks)
{
	while (callbacks) {
		rcl_weakref *w = callbacks;

		callbacks = w->pending;
		w->pending = NULL;
		w->cb(w, w->arg);
		rcl_decref(w);
	}
}

/* Unpin callbacks without running them (the heap is being destroyed). */
void weakref_drop_callbacks(rcl_weakref *callbacks)
{
	while (callbacks) {
		rcl_weakref *w = callbacks;

		callbacks = w->pending;
		w->pending = NULL;
		HEAD(w)->refcnt--;
	}
}
