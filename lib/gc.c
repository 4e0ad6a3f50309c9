/*
 * The cycle collector: CPython's generational algorithm (Modules/gcmodule.c),
 * paced by object counts as CPython is and, unlike it, by bytes.
 *
 * A collection of generation N takes generations 0..N as one set:
 *   update_refs       gc_refs = refcnt, for every object of the set
 *   subtract_refs     minus each reference from inside the set (traverse)
 *   move_unreachable  what still has gc_refs > 0 is referenced from outside;
 *                     it and all it reaches survive and move up a generation;
 *                     the rest is unreachable
 *   observer          shown the unreachable set, intact
 *   handle_weakrefs   weak references into the set are cleared, all of
 *                     them, then their callbacks run
 *   finalize_garbage  each finalizer runs, at most once per object (PEP 442)
 *   handle_resurrected  if user code ran, the set is checked again: what a
 *                     finalizer or callback made reachable survives
 *   delete_garbage    the rest is cleared, which frees it by refcount
 *
 * The states of the fields the collector uses are documented in internal.h.
 */
#include <assert.h>
#include <errno.h>
#include <time.h>

#include "internal.h"

const uint64_t rcl_pause_bounds_ns[RCL_PAUSE_BUCKETS] = {
    10000ULL,	   25000ULL,	50000ULL,     100000ULL,    250000ULL,
    500000ULL,	   1000000ULL,	2500000ULL,   5000000ULL,   10000000ULL,
    25000000ULL,   50000000ULL, 100000000ULL, 250000000ULL, 500000000ULL,
    1000000000ULL, UINT64_MAX,
};

struct rcl_garbage {
	rcl_link *list;
	size_t count;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* gc_refs = refcnt for every object of the set; mark it COLLECTING. */
static void update_refs(rcl_link *young)
{
	for (rcl_link *l = young->next; l != young; l = l->next) {
		rcl_head *o = LINK_HEAD(l);

		assert(o->refcnt > 0 && "object with no references on a list");
		o->gc_refs = o->refcnt;
		o->flags |= F_COLLECTING;
	}
}

/* A reference from inside the set does not keep its target alive. */
static void visit_decref(void *child, const char *field, void *arg)
{
	rcl_head *c;

	(void)field;
	(void)arg;
	if (!child)
		return;
	c = HEAD(child);
	if (c->flags & F_COLLECTING) {
		assert(c->gc_refs > 0 &&
		       "a traverse visits a reference its object does not own");
		if (c->gc_refs > 0)
			c->gc_refs--;
	}
}

/* Subtract the references internal to the set. */
static void subtract_refs(rcl_link *young)
{
	for (rcl_link *l = young->next; l != young; l = l->next) {
		rcl_head *o = LINK_HEAD(l);

		o->ti->type->traverse(OBJ(o), visit_decref, NULL);
	}
}

/*
 * child is reachable. If move_unreachable already put it on the unreachable
 * list, move it back to the end of young, where the scan will reach it again;
 * if the scan has not got to it, make sure it will see it as reachable.
 */
static void visit_reachable(void *child, const char *field, void *arg)
{
	rcl_link *young = arg;
	rcl_head *c;

	(void)field;
	if (!child)
		return;
	c = HEAD(child);
	if (!(c->flags & F_COLLECTING))
		return; /* another generation, or already scanned */
	if (c->flags & F_UNREACHABLE) {
		list_unlink(&c->link);
		list_append(&c->link, young);
		c->flags &= ~(uintptr_t)F_UNREACHABLE;
		c->gc_refs = 1;
	} else if (c->gc_refs == 0) {
		c->gc_refs = 1;
	}
}

/*
 * Scan young once: an object with gc_refs > 0 is reachable, and so is all it
 * references; it leaves the set (COLLECTING cleared), takes GEN to_gen and is
 * counted in survivors. An object with gc_refs == 0 may be unreachable: it
 * goes to unreachable, and comes back if a later object reaches it.
 */
static void move_unreachable(rcl_link *young, rcl_link *unreachable,
			     unsigned to_gen, rcl_slot *survivors)
{
	rcl_link *l = young->next;

	while (l != young) {
		rcl_head *o = LINK_HEAD(l);

		if (o->gc_refs > 0) {
			/* traverse may append to young: read next after it */
			o->ti->type->traverse(OBJ(o), visit_reachable, young);
			o->flags &= ~(uintptr_t)F_COLLECTING;
			head_set_gen(o, to_gen);
			survivors->objects++;
			survivors->bytes += head_bytes(o);
			l = l->next;
		} else {
			rcl_link *next = l->next;

			list_unlink(l);
			list_append(l, unreachable);
			o->flags |= F_UNREACHABLE;
			l = next;
		}
	}
}

struct garbage_info {
	size_t objects;
	size_t bytes;
	bool weak;
	bool finalizers;
};

/* Mark the unreachable set GARBAGE and say what it needs. */
static void mark_garbage(rcl_link *unreachable, struct garbage_info *gi)
{
	for (rcl_link *l = unreachable->next; l != unreachable; l = l->next) {
		rcl_head *o = LINK_HEAD(l);

		head_set_gen(o, GEN_GARBAGE);
		gi->objects++;
		gi->bytes += head_bytes(o);
		if (o->ext && o->ext->weak)
			gi->weak = true;
		if (o->ti->type->finalize && !(o->flags & F_FINALIZED))
			gi->finalizers = true;
	}
}

/*
 * Clear every weak reference into the set before any callback runs, so no
 * callback can reach a member; true if a callback ran.
 */
static bool handle_weakrefs(rcl_link *unreachable)
{
	rcl_weakref *callbacks = NULL;

	for (rcl_link *l = unreachable->next; l != unreachable; l = l->next) {
		rcl_head *o = LINK_HEAD(l);

		if (o->ext && o->ext->weak)
			weakref_clear_all(o, &callbacks);
	}
	if (!callbacks)
		return false;
	weakref_run_callbacks(callbacks);
	return true;
}

/*
 * Run each finalizer once. Finalizers may free members by refcount, so the
 * list is never walked: each object is moved to seen before its finalizer
 * runs. Returns how many ran.
 */
static size_t finalize_garbage(rcl_heap *h, rcl_link *unreachable)
{
	rcl_link seen;
	size_t ran = 0;

	list_init(&seen);
	while (!list_empty(unreachable)) {
		rcl_head *o = LINK_HEAD(unreachable->next);
		const rcl_type *t = o->ti->type;

		list_unlink(&o->link);
		list_append(&o->link, &seen);
		if (t->finalize && !(o->flags & F_FINALIZED)) {
			o->flags |= F_FINALIZED;
			o->refcnt++;
			t->finalize(OBJ(o));
			ran++;
			rcl_decref(OBJ(o));
		}
	}
	list_merge(&seen, unreachable);
	h->st.finalized_total += ran;
	return ran;
}

/*
 * User code ran: find what it made reachable again (and all that reaches),
 * and move it to to_gen; the rest stays in unreachable. Returns how many
 * objects were resurrected.
 */
static size_t handle_resurrected(rcl_heap *h, rcl_link *unreachable,
				 unsigned to_gen)
{
	rcl_link still;
	rcl_slot res = {0, 0};

	for (rcl_link *l = unreachable->next; l != unreachable; l = l->next) {
		rcl_head *o = LINK_HEAD(l);

		o->flags &= ~(uintptr_t)F_UNREACHABLE;
		o->gc_refs = o->refcnt;
	}
	subtract_refs(unreachable);
	list_init(&still);
	move_unreachable(unreachable, &still, to_gen, &res);
	h->slot[GEN_GARBAGE].objects -= res.objects;
	h->slot[GEN_GARBAGE].bytes -= res.bytes;
	h->slot[to_gen].objects += res.objects;
	h->slot[to_gen].bytes += res.bytes;
	list_merge(unreachable, heap_list(h, to_gen));
	list_merge(&still, unreachable);
	h->st.resurrected_total += res.objects;
	return res.objects;
}

/*
 * Clear each member, which drops the references that form the cycles: the
 * set then frees itself by refcount. A member still alive after its clear
 * (its type's clear did not drop everything) moves to to_gen and is counted
 * uncollectable. Returns how many were freed.
 */
static size_t delete_garbage(rcl_heap *h, rcl_link *unreachable,
			     unsigned to_gen, size_t *uncollectable)
{
	uint64_t frees = h->st.frees_total;

	while (!list_empty(unreachable)) {
		rcl_head *o = LINK_HEAD(unreachable->next);
		const rcl_type *t = o->ti->type;

		if (t->clear && !(o->flags & F_CLEARED)) {
			o->refcnt++;
			o->flags |= F_CLEARED;
			t->clear(OBJ(o));
			rcl_decref(OBJ(o));
		}
		if (unreachable->next == &o->link) {
			/* still alive: it may die later */
			o->flags &= ~(uintptr_t)(F_COLLECTING | F_UNREACHABLE |
						 F_CLEARED);
			heap_relink(h, o, to_gen);
			(*uncollectable)++;
		}
	}
	return (size_t)(h->st.frees_total - frees);
}

/* Record a pause in the statistics. */
static void record_pause(rcl_heap *h, uint64_t ns)
{
	int b = 0;

	h->st.pause_last_ns = ns;
	h->st.pause_total_ns += ns;
	if (ns > h->st.pause_max_ns)
		h->st.pause_max_ns = ns;
	while (ns > rcl_pause_bounds_ns[b])
		b++;
	h->st.pause_hist[b]++;
}

/* Merge generations 0..gen-1 into gen; the objects of the merged set. */
static rcl_slot merge_younger(rcl_heap *h, int gen)
{
	rcl_slot all = {0, 0};

	for (int i = 0; i <= gen; i++) {
		if (i < gen)
			list_merge(&h->gens[i].head, &h->gens[gen].head);
		all.objects += h->slot[i].objects;
		all.bytes += h->slot[i].bytes;
		h->slot[i].objects = 0;
		h->slot[i].bytes = 0;
	}
	return all;
}

/* Total bytes on the heap. */
static size_t heap_bytes(const rcl_heap *h)
{
	size_t bytes = 0;

	for (int i = 0; i < NSLOTS; i++)
		bytes += h->slot[i].bytes;
	return bytes;
}

/*
 * Collect generations 0..generation. This is the main function: read it to
 * understand how a collection proceeds.
 */
size_t gc_collect(rcl_heap *h, int generation, int reason)
{
	unsigned to_gen =
	    generation < RCL_GENERATIONS - 1 ? generation + 1 : generation;
	struct garbage_info gi = {0, 0, false, false};
	rcl_slot all, surv = {0, 0};
	rcl_link *young, unreachable;
	size_t uncollectable = 0;
	bool user_code = false;
	uint64_t t0 = now_ns();

	if (h->collecting || h->dealloc_depth > 0) {
		/* Not from inside a collection, nor while an object is being
		 * freed: it is on a list with no references. */
		errno = EBUSY;
		return 0;
	}
	h->collecting = true;
	if (generation + 1 < RCL_GENERATIONS)
		h->gens[generation + 1].count++;
	for (int i = 0; i <= generation; i++)
		h->gens[i].count = 0;
	h->young_bytes_since = 0;

	all = merge_younger(h, generation);
	young = &h->gens[generation].head;
	update_refs(young);
	subtract_refs(young);
	list_init(&unreachable);
	move_unreachable(young, &unreachable, to_gen, &surv);
	h->slot[to_gen].objects += surv.objects;
	h->slot[to_gen].bytes += surv.bytes;
	h->slot[GEN_GARBAGE].objects += all.objects - surv.objects;
	h->slot[GEN_GARBAGE].bytes += all.bytes - surv.bytes;
	if ((unsigned)generation != to_gen) {
		if (generation == RCL_GENERATIONS - 2)
			h->long_lived_pending += surv.objects;
		list_merge(young, &h->gens[to_gen].head);
	} else {
		h->long_lived_pending = 0;
		h->long_lived_total = surv.objects;
	}

	mark_garbage(&unreachable, &gi);
	if (h->observer && gi.objects) {
		struct rcl_garbage g = {&unreachable, gi.objects};

		h->observer(h, generation, &g, h->observer_arg);
	}
	if (gi.weak)
		user_code |= handle_weakrefs(&unreachable);
	if (gi.finalizers)
		user_code |= finalize_garbage(h, &unreachable) > 0;
	if (user_code)
		handle_resurrected(h, &unreachable, to_gen);
	h->st.freed_by_gc_total +=
	    delete_garbage(h, &unreachable, to_gen, &uncollectable);

	if (generation == RCL_GENERATIONS - 1)
		h->full_floor = heap_bytes(h);
	h->gens[generation].collections++;
	h->gens[generation].collected += gi.objects;
	h->gens[generation].uncollectable += uncollectable;
	h->st.collections_total++;
	h->st.collected_total += gi.objects;
	if (reason == REASON_COUNT)
		h->st.collections_by_count_total++;
	else if (reason == REASON_BYTES)
		h->st.collections_by_bytes_total++;
	record_pause(h, now_ns() - t0);
	h->collecting = false;
	return gi.objects;
}

/*
 * Byte rule for a full collection: the heap grew by more than
 * max(young_bytes, a quarter of what survived the last full collection),
 * CPython's long-lived heuristic applied to bytes.
 */
static bool full_by_bytes(const rcl_heap *h)
{
	size_t total = heap_bytes(h);
	size_t limit = h->full_floor / 4;

	if (limit < h->young_bytes)
		limit = h->young_bytes;
	return total > h->full_floor && total - h->full_floor > limit;
}

/* The oldest generation due, as CPython's collect_generations() picks it. */
static int pick_generation(const rcl_heap *h, bool by_bytes)
{
	if (by_bytes && full_by_bytes(h))
		return RCL_GENERATIONS - 1;
	for (int i = RCL_GENERATIONS - 1; i > 0; i--) {
		if (h->gens[i].count <= h->gens[i].threshold)
			continue;
		/* Avoid quadratic cost in the number of long-lived objects
		 * (CPython issue #4074): a full collection only when the
		 * objects awaiting one exceed 25% of the long-lived ones. */
		if (i == RCL_GENERATIONS - 1 &&
		    h->long_lived_pending < h->long_lived_total / 4)
			continue;
		return i;
	}
	return 0;
}

/*
 * Called before new_bytes are taken: collect if the count threshold is
 * passed, or if taking them would pass the byte trigger, so garbage is freed
 * before the new memory is taken.
 */
void gc_maybe_collect(rcl_heap *h, size_t new_bytes)
{
	bool by_bytes, by_count;

	if (!h->enabled || h->collecting || h->dealloc_depth > 0)
		return;
	by_count =
	    h->gens[0].threshold && h->gens[0].count > h->gens[0].threshold;
	by_bytes =
	    h->young_bytes && h->young_bytes_since + new_bytes > h->young_bytes;
	if (!by_count && !by_bytes)
		return;
	gc_collect(h, pick_generation(h, by_bytes),
		   by_count ? REASON_COUNT : REASON_BYTES);
}

/* Collect generations 0..generation. */
size_t rcl_collect(rcl_heap *h, int generation)
{
	if (!h || generation < 0 || generation >= RCL_GENERATIONS) {
		errno = EINVAL;
		return 0;
	}
	HEAP_CHECK_OWNER(h);
	return gc_collect(h, generation, REASON_MANUAL);
}

void rcl_set_observer(rcl_heap *h, rcl_observer_fn fn, void *arg)
{
	if (!h)
		return;
	h->observer = fn;
	h->observer_arg = arg;
}

size_t rcl_garbage_count(const rcl_garbage *g)
{
	return g ? g->count : 0;
}

/* Call fn for each member of the unreachable set. */
void rcl_garbage_foreach(const rcl_garbage *g, void (*fn)(void *, void *),
			 void *arg)
{
	if (!g || !fn)
		return;
	for (rcl_link *l = g->list->next; l != g->list; l = l->next)
		fn(OBJ(l), arg);
}

/* Is obj in the unreachable set being reported? */
bool rcl_garbage_contains(const rcl_garbage *g, const void *obj)
{
	return g && obj && head_gen(HEAD(obj)) == GEN_GARBAGE;
}
