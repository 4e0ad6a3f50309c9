/*
 * Weak references: managed objects of an untracked type that point at a
 * referent without keeping it alive. Each referent keeps its weak references
 * on a list in its extension record, so freeing it can clear them.
 */
#include <errno.h>

#include "internal.h"

struct rcl_weakref {
	void *referent; /* NULL once the referent is freed */
	rcl_weak_cb cb;
	void *arg;
	rcl_weakref *next; /* the referent's list */
	rcl_weakref *prev;
	rcl_weakref *pending; /* callbacks waiting to run */
};

/* Take w off its referent's list. */
static void detach(rcl_weakref *w)
{
	rcl_ext *ext;

	if (!w->referent)
		return;
	ext = HEAD(w->referent)->ext;
	if (w->prev)
		w->prev->next = w->next;
	else
		ext->weak = w->next;
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
	rcl_head *o;
	rcl_weakref *w;

	if (!referent) {
		errno = EINVAL;
		return NULL;
	}
	o = HEAD(referent);
	w = rcl_new(o->ti->heap, &weakref_type);
	if (!w)
		return NULL;
	if (!heap_ext(o)) {
		rcl_decref(w);
		return NULL;
	}
	o->ti->heap->weakrefs++;
	w->referent = referent;
	w->cb = cb;
	w->arg = arg;
	w->next = o->ext->weak;
	if (w->next)
		w->next->prev = w;
	o->ext->weak = w;
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
	while (o->ext->weak) {
		rcl_weakref *w = o->ext->weak;

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
