/*
 * The cycle collector: CPython's generational algorithm (Python/gc.c, which
 * was Modules/gcmodule.c before 3.13), paced by object counts as CPython is
 * and, unlike it, by bytes.
 *
 * Reference counting frees an object when its count falls to 0; a cycle
 * keeps every member's count at 1 or more, so it needs this. The idea, on
 * four objects in the set, one of them held from outside it (a C variable,
 * a worker's live list: anything the collector does not walk):
 *
 *     outside -> A -> B -> A       A and B: a cycle still in use
 *                C -> D -> C       C and D: a cycle nobody holds
 *
 *          refcnt   gc_refs after subtract_refs
 *     A    2        1   B's reference is inside the set; outside's is not
 *     B    1        0   A's is inside
 *     C    1        0
 *     D    1        0
 *
 * gc_refs > 0 means a reference from outside: A is the one root. Everything
 * a root reaches is in use (A, then B); what no root reaches is garbage (C
 * and D), though each has a reference count of 1. Clearing C drops its
 * reference to D, which falls to 0 and is freed, dropping its reference to
 * C, which is freed too. A and B move up a generation: an object that
 * survived is likely to live on, so older generations are walked less
 * often (gc_maybe_collect paces them).
 *
 * The phases, in gc_collect's order:
 * A collection of generation N takes the objects of generations 0..N as one
 * set (they stay in their vectors; internal.h documents the fields):
 *   subtract_refs     gc_refs = refcnt, minus each reference from inside
 *                     the set (traverse): CPython's update_refs and
 *                     subtract_refs in one pass
 *   mark_reachable    what still has gc_refs > 0 is referenced from outside;
 *                     it and all it reaches are reachable; the rest is
 *                     garbage (IS_GARBAGE). subtract_refs counts those
 *                     roots, and the scan stops once it has met them all:
 *                     a set that is all garbage is not walked here at all
 *   split             survivors leave the set and move up a generation
 *   observe           the observer (leak forensics) is shown the garbage,
 *                     intact
 *   handle_weakrefs   weak references into the garbage are cleared, all of
 *                     them, then their callbacks run
 *   finalize_garbage  each finalizer runs, at most once per object (PEP 442)
 *   handle_resurrected  if user code ran, the garbage is checked again: what
 *                     a finalizer or callback made reachable survives
 *   delete_garbage    each member is cleared, which drops the references
 *                     that form the cycles, and freed as soon as nothing
 *                     references it (clear_garbage)
 * When the heap has no observer, no weak reference and no pending finalizer
 * (the common case), nothing can run between the split and the clearing, so
 * split clears the garbage as it goes: one pass less (split_delete); and a
 * set with no root and nothing referenced from outside is all garbage,
 * freed whole with no split (delete_closed). The
 * references of a type that describes them (rcl_ref) are walked here, not
 * through a traverse (for_each_ref).
 *
 * On an incremental heap (rcl_set_incremental), automatic collections of
 * the oldest generation are done in increments: the trial deletion above
 * runs over the oldest generation a slice at a time, with the mutator
 * running in between, and what it finds unreachable is checked by one
 * ordinary collection at the end: "Incremental collection" below gives the
 * design, why it is sound and complete, and its pacing.
 *
 * The passes walk vectors, not lists: the set is usually larger than the
 * caches, and a list walk would wait on one miss after another. A vector is
 * in allocation order, and so mostly in address order within each pool
 * class: the hardware prefetchers follow it. (Software prefetching a few
 * objects ahead was measured: it cost more instructions than it saved.)
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
	rcl_heap *h;
	int generation;
	size_t count;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Iterate over the objects of vectors 0..gen, i.e. the set. The vector is
 * re-read each time: user code may append to generation 0 meanwhile. */
#define FOR_SET(h, gen, o)                                                     \
	for (int g_ = 0; g_ <= (gen); g_++)                                    \
		for (uint32_t i_ = 0; i_ < (h)->vec[g_].n; i_++)               \
			if (((o) = (h)->vec[g_].v[i_]) != NULL)

/* Call member(child, arg) for each reference an rcl_ref table describes,
 * entry by entry (types with more than one array, or five fields). */
static inline __attribute__((always_inline)) void
walk_table(const rcl_type *t, char *obj, void (*member)(void *, void *),
	   void *arg)
{
	for (const rcl_ref *r = t->refs, *end = r + t->nrefs; r < end; r++) {
		void *const *items;
		size_t n;

		if (r->kind == RCL_REF_FIELD) {
			member(*(void **)(obj + r->offset), arg);
			continue;
		}
		n = *(size_t *)(obj + r->len_offset);
		items = r->kind == RCL_REF_ARRAY
			    ? (void *const *)(obj + r->offset)
			    : *(void *const *)(obj + r->offset);
		for (size_t i = 0; i < n; i++)
			member(items[i], arg);
	}
}

/*
 * Call member(child, arg) for each reference of o: where the type's
 * description (rcl_ref) says they are, read here with no call into the type
 * (as CPython's collector knows its tuples and dicts, but for every type
 * that describes itself: an indirect call per object and per reference is
 * most of a walk's cost); else through the type's traverse and visit.
 * Inlined with member a constant, so member is too.
 */
static inline __attribute__((always_inline)) void
for_each_ref(rcl_head *o, void (*member)(void *, void *), rcl_visit_fn visit,
	     void *arg)
{
	const rcl_tinfo *ti = o->ti;
	char *obj = OBJ(o);
	void *const *items;
	size_t n;

	if (ti->walk == WALK_TRAVERSE) { /* first: no jump table for these */
		ti->traverse(obj, visit, arg);
		return;
	}
	switch (ti->walk) {
	case WALK_F4:
		member(*(void **)(obj + ti->off[3]), arg);
		/* fall through */
	case WALK_F3:
		member(*(void **)(obj + ti->off[2]), arg);
		/* fall through */
	case WALK_F2:
		member(*(void **)(obj + ti->off[1]), arg);
		/* fall through */
	case WALK_F1:
		member(*(void **)(obj + ti->off[0]), arg);
		return;
	case WALK_ARRAY:
	case WALK_VECTOR:
		n = *(size_t *)(obj + ti->off[1]);
		items = ti->walk == WALK_ARRAY
			    ? (void *const *)(obj + ti->off[0])
			    : *(void *const *)(obj + ti->off[0]);
		for (size_t i = 0; i < n; i++)
			member(items[i], arg);
		return;
	case WALK_REFS:
		walk_table(ti->type, obj, member, arg);
		return;
	default:
		break; /* WALK_NONE: not a member */
	}
}

/* What subtract_refs() passes its visitor, and learns. */
struct subtract {
	unsigned gen;	 /* the set is generations 0..gen */
	size_t zeros;	 /* members whose gc_refs reached zero */
	size_t leaving;	 /* references from members to objects outside */
};

/* First touch of a member in this collection: gc_refs = refcnt. */
static inline void init_refs(rcl_head *o)
{
	assert(o->refcnt > 0 && "object with no references in a set");
	o->gc_refs = (uintptr_t)o->refcnt;
	o->flags |= F_COLLECTING;
}

/* A reference from inside the set does not keep its target alive. A member
 * not yet met is initialized first. */
static inline void decref_member(void *child, void *arg)
{
	struct subtract *sub = arg;
	rcl_head *c;
	uint32_t fl;

	if (!child)
		return;
	c = HEAD(child);
	fl = c->flags;
	if (!(fl & F_COLLECTING)) { /* not met yet, or outside the set */
		if ((fl & GEN_MASK) > sub->gen) {
			sub->leaving++; /* older, permanent or untracked */
			return;
		}
		init_refs(c);
	}
	assert(c->gc_refs > 0 &&
	       "a traverse visits a reference its object does not own");
	if (c->gc_refs > 0 && --c->gc_refs == 0)
		sub->zeros++;
}

static void visit_decref(void *child, const char *field, void *arg)
{
	(void)field;
	decref_member(child, arg);
}

/*
 * update_refs and subtract_refs in one pass: each member gets COLLECTING and
 * gc_refs = refcnt when first met (as itself or as a child), then loses one
 * for each reference from another member. Returns how many members are left
 * with references from outside the set (the roots of the mark).
 */
static size_t subtract_refs(rcl_heap *h, int gen, struct subtract *out)
{
	struct subtract sub = {(unsigned)gen, 0, 0};
	size_t members = 0;

	/* Every member is met once, here or as a child, and starts with
	 * gc_refs > 0: the roots are the members less those that reached
	 * zero. (Counting them as they go would chain every step on one
	 * counter in memory.) */
	for (int g = 0; g <= gen; g++) {
		/* traverse neither allocates nor frees: v and n stay put */
		rcl_head **v = h->vec[g].v;
		uint32_t n = h->vec[g].n;

		members += vec_count(&h->vec[g]);
		for (uint32_t i = 0; i < n; i++) {
			rcl_head *o = v[i];

			if (!o)
				continue;
			if (!(o->flags & F_COLLECTING))
				init_refs(o);
			for_each_ref(o, decref_member, visit_decref, &sub);
		}
	}
	*out = sub;
	return members - sub.zeros;
}

/* The mark's work stack, linked through gc_refs, and how many roots (members
 * with gc_refs > 0) the mark has yet to meet. */
struct mark {
	rcl_head *stack;
	size_t roots;
};

/* child is reachable: mark it and push it on the work stack. A root met
 * here is counted before its gc_refs becomes a link. */
static inline void mark_member(void *child, void *arg)
{
	struct mark *m = arg;
	rcl_head *c;

	if (!child)
		return;
	c = HEAD(child);
	if ((c->flags & (F_COLLECTING | F_REACHABLE)) != F_COLLECTING)
		return; /* outside the set, or already marked */
	if (c->gc_refs > 0)
		m->roots--;
	c->flags |= F_REACHABLE;
	c->gc_refs = (uintptr_t)m->stack;
	m->stack = c;
}

static void visit_reachable(void *child, const char *field, void *arg)
{
	(void)field;
	mark_member(child, arg);
}

/* Mark o reachable, and everything it reaches; no allocation: the work
 * stack is linked through gc_refs. */
static void mark_from(rcl_head *o, struct mark *m)
{
	o->flags |= F_REACHABLE;
	for_each_ref(o, mark_member, visit_reachable, m);
	while (m->stack) {
		o = m->stack;
		m->stack = (rcl_head *)o->gc_refs;
		for_each_ref(o, mark_member, visit_reachable, m);
	}
}

/*
 * Everything with references from outside the set (gc_refs > 0) is
 * reachable, and all it reaches. In the set: COLLECTING, plus REACHABLE
 * while resurrection is checked. roots is how many such members there are
 * (SIZE_MAX: unknown); the scan stops once it has met them all, so a set
 * that is all garbage is not walked again.
 */
static void mark_reachable(rcl_heap *h, int gen, size_t roots)
{
	struct mark m = {NULL, roots};

	for (int g = 0; g <= gen && m.roots > 0; g++) {
		rcl_vec *v = &h->vec[g];

		for (uint32_t i = 0; i < v->n && m.roots > 0; i++) {
			rcl_head *o = v->v[i];

			if (o &&
			    (o->flags & (F_COLLECTING | F_REACHABLE)) ==
				F_COLLECTING &&
			    o->gc_refs > 0) {
				m.roots--;
				mark_from(o, &m);
			}
		}
	}
}

struct split_info {
	size_t garbage;
	size_t survivors;
	bool weak;
	bool finalizers;
	bool increment; /* the collection is an increment (gc_increment) */
};

/*
 * Free one member of the garbage, cleared and with no references left: like
 * heap_free_object(), but leaving a hole for the compaction that follows,
 * with the pacing counts summed in h->gc_freed. Inline in the delete loops;
 * rcl_dealloc() calls the out-of-line copy below.
 */
/* The counts a freed member leaves: a hole in its vector, its block out of
 * its generation, its bytes (block and owned) out of its type, and into
 * h->gc_freed. */
static inline void release_counts(rcl_heap *h, rcl_head *o, size_t block,
				  size_t bytes)
{
	rcl_tinfo *ti = o->ti;
	unsigned gen = head_gen(o);

	if (__builtin_expect(h->finalizable != 0, 0) && ti->type->finalize &&
	    !(o->flags & F_FINALIZED))
		h->finalizable--;
	h->vec[gen].v[o->idx] = NULL;
	h->vec[gen].holes++;
	h->slot[gen].bytes -= block;
	ti->objects--;
	ti->bytes -= bytes;
	h->gc_freed.objects++;
	h->gc_freed.bytes += bytes;
}

static inline void release_member(rcl_heap *h, rcl_head *o)
{
	size_t block = head_block(o), bytes = block;

	if (__builtin_expect(o->flags & (F_OWNED | F_SITE), 0)) {
		if (o->flags & F_SITE)
			sites_forget(h, o);
		if (o->flags & F_OWNED)
			bytes += heap_owned_take(h, o);
	}
	release_counts(h, o, block, bytes);
	heap_free_block(h, o, block);
}

/* release_member() for a pooled member with nothing owned, the common
 * case: its page read once, its block put back without the checks
 * pool_free() makes. */
static inline void release_pooled(rcl_heap *h, rcl_head *o)
{
	pool_page *pg = (pool_page *)((uintptr_t)o & ~(uintptr_t)(POOL_PAGE - 1));
	size_t block = class_size(pg->cls);

	release_counts(h, o, block, block);
	pool_put(h, pg, o);
}

/* The rare kinds, out of line: big blocks, owned bytes. */
static __attribute__((noinline)) void release_other(rcl_heap *h, rcl_head *o)
{
	release_member(h, o);
}

/* release_member() without a call of its own, so that freeing an object
 * whose type has no destroy saves no registers. */
static __attribute__((noinline)) void release_plain(rcl_heap *h, rcl_head *o)
{
	if (__builtin_expect(o->flags & (F_BIG | F_OWNED | F_SITE), 0))
		release_other(h, o);
	else
		release_pooled(h, o);
}

static inline void free_member(rcl_heap *h, rcl_head *o)
{
	const rcl_type *t = o->ti->type;

	if (t->destroy) {
		t->destroy(OBJ(o));
		release_member(h, o);
	} else {
		release_plain(h, o);
	}
}

void gc_free_member(rcl_heap *h, rcl_head *o)
{
	free_member(h, o);
}

/*
 * Delete one member of the garbage: clear it, which drops the references
 * that form the cycles; if nothing references it any more, free it now.
 * Otherwise it is freed when its last referrer is cleared (rcl_dealloc()
 * sees a cleared member reach zero), or found uncollectable at the end.
 * Nothing can reference a member whose count is zero, so freeing it at once
 * is safe however far the delete has got.
 */
static void clear_garbage(rcl_heap *h, rcl_head *o)
{
	/* CLEARED only once clear has returned: if o's count drops to zero
	 * meanwhile, rcl_dealloc() leaves it to the test below. */
	type_clear(o->ti, OBJ(o));
	o->flags |= F_CLEARED;
	if (o->refcnt == 0)
		free_member(h, o);
}

/*
 * An increment's old object that survived goes back to the place it was
 * taken from (take_one left a hole there): the oldest vector keeps its
 * order, the allocation order the walks' prefetching relies on, and no
 * pending object is moved below the pass's cursor. If frees shortened the
 * vector meanwhile, it is lengthened with holes; if another survivor took
 * the place, this one goes at the end (reserve_survivors made room).
 */
static __attribute__((noinline)) void restore(rcl_heap *h, rcl_head *o)
{
	rcl_vec *v = &h->vec[RCL_GENERATIONS - 1];
	uint32_t k = h->taken_from[o->idx - h->taken_base];
	size_t bytes = head_block(o);

	h->vec[RCL_GENERATIONS - 2].v[o->idx] = NULL;
	h->vec[RCL_GENERATIONS - 2].holes++;
	while (v->n <= k) {
		v->v[v->n++] = NULL;
		v->holes++;
	}
	if (v->v[k] == NULL) {
		v->v[k] = o;
		v->holes--;
		o->idx = k;
	} else {
		o->idx = v->n;
		v->v[v->n++] = o;
	}
	head_set_gen(o, RCL_GENERATIONS - 1);
	h->slot[RCL_GENERATIONS - 2].bytes -= bytes;
	h->slot[RCL_GENERATIONS - 1].bytes += bytes;
	h->restored++;
}

/* A survivor leaves the set, and moves to dst (to_gen) if move. */
static inline void survive(rcl_heap *h, rcl_head *o, rcl_vec *dst,
			   unsigned to_gen, bool move)
{
	unsigned from = head_gen(o);
	size_t bytes;

	/* counted and marked: outside the incremental pass under way, which
	 * began before it got here (one store with the flags cleared anyway;
	 * the bits mean nothing below gen 2) */
	o->flags = (o->flags & ~(uint32_t)(F_COLLECTING | F_REACHABLE |
					   F_COUNTED | F_MARKED)) |
		   h->epoch;
	if (!move || from == to_gen)
		return;
	if (__builtin_expect(o->idx >= h->taken_base, 0) &&
	    from == RCL_GENERATIONS - 2) {
		restore(h, o);
		return;
	}
	bytes = head_block(o);
	h->vec[from].v[o->idx] = NULL;
	h->vec[from].holes++;
	o->idx = dst->n;
	dst->v[dst->n++] = o;
	head_set_gen(o, to_gen);
	h->slot[from].bytes -= bytes;
	h->slot[to_gen].bytes += bytes;
}

/* Make room in to_gen's vector for every survivor; false if memory is
 * short (they then stay where they are). */
static bool reserve_survivors(rcl_heap *h, int gen, unsigned to_gen)
{
	size_t movable = 0;

	for (int g = 0; g <= gen; g++)
		movable += (unsigned)g == to_gen ? 0 : h->vec[g].n;
	return vec_reserve(h, &h->vec[to_gen], movable);
}

/*
 * Survivors leave the set and move to to_gen; the garbage stays, and is
 * counted, with whether any of it has weak references or a finalizer to
 * run. Nothing here runs user code.
 */
static void split(rcl_heap *h, int gen, unsigned to_gen, struct split_info *si)
{
	rcl_vec *dst = &h->vec[to_gen];
	bool move = reserve_survivors(h, gen, to_gen);
	rcl_head *o;

	FOR_SET(h, gen, o)
	{
		if (!(o->flags & F_COLLECTING))
			continue;
		if (o->flags & F_REACHABLE) {
			si->survivors++;
			survive(h, o, dst, to_gen, move);
			continue;
		}
		si->garbage++;
		if (o->ti->type->finalize && !(o->flags & F_FINALIZED))
			si->finalizers = true;
		if (o->flags & F_WEAK)
			si->weak = true;
	}
}

/*
 * split() for the fast path (no observer, weak reference or finalizer in
 * the heap): the garbage is cleared, and freed, as it is found. Nothing can
 * run user code between the mark and here, and the types' clear cannot
 * reach a survivor's references into the garbage (there are none).
 */
static void split_delete(rcl_heap *h, int gen, unsigned to_gen,
			 struct split_info *si)
{
	rcl_vec *dst = &h->vec[to_gen];
	bool move = reserve_survivors(h, gen, to_gen);
	size_t garbage = 0, survivors = 0;

	for (int g = 0; g <= gen; g++) {
		rcl_vec *v = &h->vec[g];

		/* v->v and v->n are read again each time: clear may allocate */
		for (uint32_t i = 0; i < v->n; i++) {
			rcl_head *o = v->v[i];
			uint32_t fl;

			if (!o)
				continue;
			fl = o->flags;
			if (!(fl & F_COLLECTING))
				continue;
			if (fl & F_REACHABLE) {
				survivors++;
				survive(h, o, dst, to_gen, move);
				continue;
			}
			garbage++;
			clear_garbage(h, o);
		}
	}
	si->garbage += garbage;
	si->survivors += survivors;
}

/*
 * The delete for a closed set (gc_collect): every member is garbage, none
 * references anything outside the set, and every type on the heap with
 * live objects clears with the derived clear (opaque_live). Dropping a member's references would only count down
 * others that are being freed too, so nothing is dropped: each member is
 * freed as it comes, in vector order, one pass and no cache miss but its
 * own line. A type with destroy sees its described fields emptied first,
 * as after a clear. Nothing can run that reaches a member (the fast path
 * has no finalizer, weak reference or observer), and a destroy that
 * decrefs one finds it garbage and not cleared, which frees nothing.
 */
/* Whether the heap holds an object whose clear is its type's own (or that
 * has a traverse and no refs): the closed delete must not skip a clear
 * with effects of its own. Per type, not per member: a walk of the set to
 * ask each member would cost a miss each; the type table is a few lines. */
static bool opaque_live(const rcl_heap *h)
{
	for (size_t i = 0; i < h->types_cap; i++) {
		const rcl_tinfo *ti = h->types[i];

		if (ti != NULL && ti->opaque && ti->tracked && ti->objects != 0)
			return true;
	}
	return false;
}

static void delete_closed(rcl_heap *h, int gen, struct split_info *si)
{
	size_t garbage = 0;

	for (int g = 0; g <= gen; g++) {
		rcl_vec *v = &h->vec[g];

		/* v->n read again each time: destroy may allocate */
		for (uint32_t i = 0; i < v->n; i++) {
			rcl_head *o = v->v[i];
			const rcl_type *t;

			if (!o || !(o->flags & F_COLLECTING))
				continue;
			garbage++;
			t = o->ti->type;
			if (t->destroy == NULL) {
				release_plain(h, o);
				continue;
			}
			refs_forget(o->ti, OBJ(o));
			t->destroy(OBJ(o));
			release_member(h, o);
		}
	}
	si->garbage += garbage;
}

/* Clear every weak reference into the garbage before any callback runs,
 * so no callback can reach a member; true if a callback ran. */
static bool handle_weakrefs(rcl_heap *h, int gen)
{
	rcl_weakref *callbacks = NULL;
	rcl_head *o;

	FOR_SET(h, gen, o)
	{
		if (IS_GARBAGE(o) && (o->flags & F_WEAK))
			weakref_clear_all(o, &callbacks);
	}
	if (!callbacks)
		return false;
	weakref_run_callbacks(callbacks);
	return true;
}

/* Run each finalizer once; how many ran. A finalizer may free members by
 * refcount (they leave holes) or allocate (appended, not in the set). */
static size_t finalize_garbage(rcl_heap *h, int gen)
{
	size_t ran = 0;
	rcl_head *o;

	FOR_SET(h, gen, o)
	{
		if (IS_GARBAGE(o) && o->ti->type->finalize &&
		    !(o->flags & F_FINALIZED)) {
			o->flags |= F_FINALIZED;
			h->finalizable--;
			o->refcnt++;
			o->ti->type->finalize(OBJ(o));
			ran++;
			rcl_decref(OBJ(o));
		}
	}
	h->st.finalized_total += ran;
	return ran;
}

/* Within the garbage, a reference from another member is not external. */
static void visit_decref_garbage(void *child, const char *field, void *arg)
{
	rcl_head *c;

	(void)field;
	(void)arg;
	if (child && IS_GARBAGE(c = HEAD(child)) && c->gc_refs > 0)
		c->gc_refs--;
}

/*
 * User code ran: find what it made reachable again (and all that reaches),
 * and take it out of the garbage, where it is. Returns how many objects
 * were resurrected.
 */
static size_t handle_resurrected(rcl_heap *h, int gen)
{
	size_t n = 0;
	rcl_head *o;

	FOR_SET(h, gen, o)
	{
		if (IS_GARBAGE(o))
			o->gc_refs = (uintptr_t)o->refcnt;
	}
	FOR_SET(h, gen, o)
	{
		if (IS_GARBAGE(o))
			type_traverse(o->ti->type, OBJ(o),
				      visit_decref_garbage, NULL);
	}
	mark_reachable(h, gen, SIZE_MAX);
	FOR_SET(h, gen, o)
	{
		if ((o->flags & (F_COLLECTING | F_REACHABLE)) ==
		    (F_COLLECTING | F_REACHABLE)) {
			/* outside the pass under way, as a survivor */
			o->flags = (o->flags & ~(uint32_t)(F_COLLECTING |
							   F_REACHABLE |
							   F_COUNTED |
							   F_MARKED)) |
				   h->epoch;
			n++;
		}
	}
	h->st.resurrected_total += n;
	return n;
}

/*
 * After the delete: members still alive (their type's clear did not drop
 * everything, or something outside took a reference) leave the set and are
 * counted uncollectable; the pacing counts catch up with what was freed.
 * Returns how many members were freed.
 */
static size_t finish_garbage(rcl_heap *h, int gen, unsigned to_gen,
			     size_t garbage, size_t *uncollectable)
{
	rcl_slot freed = h->gc_freed;
	rcl_head *o;

	if (freed.objects < garbage) {
		FOR_SET(h, gen, o)
		{
			if (!IS_GARBAGE(o))
				continue;
			/* outside the pass under way, as a survivor */
			o->flags = (o->flags & ~(uint32_t)(F_COLLECTING |
							   F_CLEARED |
							   F_COUNTED |
							   F_MARKED)) |
				   h->epoch;
			(*uncollectable)++;
			if (head_gen(o) != to_gen)
				heap_relink(h, o, to_gen);
		}
	}
	/* what heap_free_object() does per object, once */
	h->gens[0].count -=
	    freed.objects < h->gens[0].count ? freed.objects : h->gens[0].count;
	h->young_bytes_since -= freed.bytes < h->young_bytes_since
				    ? freed.bytes
				    : h->young_bytes_since;
	h->gc_freed.objects = h->gc_freed.bytes = 0;
	return freed.objects;
}

/* The histogram bucket of a pause (rcl_pause_bounds_ns; the last is
 * UINT64_MAX, so the walk ends). */
static int pause_bucket(uint64_t ns)
{
	int b = 0;

	while (ns > rcl_pause_bounds_ns[b])
		b++;
	return b;
}

/* Record a pause in the statistics. */
static void record_pause(rcl_heap *h, uint64_t ns)
{
	h->st.pause_last_ns = ns;
	h->st.pause_total_ns += ns;
	if (ns > h->st.pause_max_ns)
		h->st.pause_max_ns = ns;
	h->st.pause_hist[pause_bucket(ns)]++;
}

/* The garbage of this collection, for the observer and the slow path. */
static void observe(rcl_heap *h, int gen, size_t count)
{
	struct rcl_garbage g = {h, gen, count};

	h->observer(h, gen, &g, h->observer_arg);
}

/* The pacing state and statistics after a collection. */
static void finish_counts(rcl_heap *h, int gen, int reason,
			  const struct split_info *si, size_t uncollectable)
{
	if (gen == RCL_GENERATIONS - 2) {
		h->long_lived_pending += si->survivors;
	} else if (gen == RCL_GENERATIONS - 1) {
		h->long_lived_pending = 0;
		h->long_lived_total = si->survivors;
		h->full_floor = heap_total_bytes(h);
		h->allocs_at_full = h->st.allocations_total;
		h->owned_at_full = h->owned_ops;
		h->full_ns = now_ns();
	}
	h->gens[gen].collections++;
	h->gens[gen].collected += si->garbage;
	h->gens[gen].uncollectable += uncollectable;
	h->st.collections_total++;
	h->st.collected_total += si->garbage;
	if (reason == REASON_COUNT)
		h->st.collections_by_count_total++;
	else if (reason == REASON_BYTES)
		h->st.collections_by_bytes_total++;
	else if (reason == REASON_LIMIT)
		h->st.collections_by_limit_total++;
}

/* Clear each member of the garbage not cleared yet (a finalizer or a
 * weak reference's callback may have run meanwhile), which drops the
 * references that form its cycles: each member is freed as soon as nothing
 * references it (clear_garbage). */
static void delete_garbage(rcl_heap *h, int gen)
{
	rcl_head *o;

	h->deleting = true;
	FOR_SET(h, gen, o)
	{
		if (IS_GARBAGE(o) && !(o->flags & F_CLEARED))
			clear_garbage(h, o);
	}
}

static double pace_owed(const rcl_heap *h);

/* The level growth is counted from: the heap's highest, following it down
 * a 64th of the way when it is lower (pace_owed). */
static void pace_level(rcl_heap *h)
{
	size_t total = heap_total_bytes(h);

	if (total > h->pace_total)
		h->pace_total = total;
	else
		h->pace_total -= (h->pace_total - total) / 64;
}

/* Update the counters a collection of gen changes, as CPython does at
 * the start of one; the incremental pacing takes in the bytes allocated
 * since the last collection first. */
static void start_counts(rcl_heap *h, int gen)
{
	if (h->incremental) {
		h->debt = pace_owed(h);
		if (h->debt > (double)h->pass_work)
			h->debt = (double)h->pass_work;
		pace_level(h);
	}
	if (gen + 1 < RCL_GENERATIONS)
		h->gens[gen + 1].count++;
	for (int i = 0; i <= gen; i++)
		h->gens[i].count = 0;
	h->young_bytes_since = 0;
}

/*
 * The phases, on the set of generations 0..gen. This is the main function:
 * read it to understand how a collection proceeds.
 */
static void collect_set(rcl_heap *h, int gen, struct split_info *si,
			size_t *uncollectable)
{
	unsigned to_gen =
	    gen < RCL_GENERATIONS - 1 ? (unsigned)gen + 1 : (unsigned)gen;
	struct subtract sub;
	size_t roots;
	bool fast, user_code = false;

	roots = subtract_refs(h, gen, &sub);
	mark_reachable(h, gen, roots);
	/* Nothing can run between split and delete on the fast path. */
	fast = !h->observer && !h->weakrefs && !h->finalizable;
	h->deleting = fast;
	if (fast && roots == 0 && sub.leaving == 0 && !opaque_live(h))
		delete_closed(h, gen, si);
	else if (fast)
		split_delete(h, gen, to_gen, si);
	else
		split(h, gen, to_gen, si);
	if (!fast && si->garbage) {
		if (h->observer)
			observe(h, gen, si->garbage);
		if (si->weak)
			user_code |= handle_weakrefs(h, gen);
		if (si->finalizers)
			user_code |= finalize_garbage(h, gen) > 0;
		if (user_code)
			handle_resurrected(h, gen);
		delete_garbage(h, gen);
	}
	h->st.freed_by_gc_total +=
	    finish_garbage(h, gen, to_gen, si->garbage, uncollectable);
	h->deleting = false;
	for (int g = 0; g <= gen; g++)
		vec_compact(&h->vec[g]);
}

/* Start a collection of 0..gen, noting when in *t0; false (EBUSY) if none
 * may start here: inside a collection, or while an object is being freed
 * (it has no references but is still in its vector). */
static bool collect_begin(rcl_heap *h, int gen, uint64_t *t0)
{
	if (h->collecting || h->dealloc_depth > 0) {
		errno = EBUSY;
		return false;
	}
	*t0 = now_ns();
	h->collecting = true;
	start_counts(h, gen);
	return true;
}

static void record_increment(rcl_heap *h, uint64_t ns);

/* End it: the idle pages, the pacing state, the statistics, the hook. */
static void collect_end(rcl_heap *h, int gen, int reason,
			const struct split_info *si, size_t uncollectable,
			uint64_t t0)
{
	uint64_t ns;

	/* the pages this freed stay for the allocations that follow; those
	 * free for a second go back */
	pool_release_idle(&h->pool, now_ns());
	finish_counts(h, gen, reason, si, uncollectable);
	ns = now_ns() - t0;
	record_pause(h, ns);
	if (si->increment)
		record_increment(h, ns);
	if (h->collect_hook)
		h->collect_hook(h, gen, si->garbage, h->collect_hook_arg);
	h->collecting = false;
}

static void pass_begin(rcl_heap *h);
static void fill_holes(rcl_heap *h, uint32_t from);

/* Collect generations 0..gen, stopping the world: a full collection is
 * a whole pass over the oldest generation, and a new one begins. */
size_t gc_collect(rcl_heap *h, int gen, int reason)
{
	struct split_info si = {0, 0, false, false, false};
	uint32_t n_old = h->vec[RCL_GENERATIONS - 1].n;
	size_t uncollectable = 0;
	uint64_t t0;

	if (!collect_begin(h, gen, &t0))
		return 0;
	if (gen == RCL_GENERATIONS - 1)
		gc_pass_abort(h); /* this is a whole one */
	collect_set(h, gen, &si, &uncollectable);
	if (gen == RCL_GENERATIONS - 1)
		pass_begin(h);
	else if (h->incremental && gen == RCL_GENERATIONS - 2)
		fill_holes(h, n_old);
	collect_end(h, gen, reason, &si, uncollectable, t0);
	return si.garbage;
}

/*
 * Incremental collection of the oldest generation (rcl_set_incremental).
 *
 * CPython 3.13 took increments closed under references (a slice of the
 * oldest generation with all it reaches), and so does not split a garbage
 * cycle; but one object that reaches most of the heap (a module's dict
 * there; here a cache kept in one list or map) makes the increment that
 * takes it as large as the heap, every pass. This collector instead runs
 * the trial deletion itself in increments, over the whole oldest
 * generation, with the mutator running in between, and then checks what
 * it found with one ordinary collection:
 *
 *   count     each old object's gc_refs = refcnt (when first met), less one
 *             for each reference from an old object: subtract_refs, a
 *             slice at a time (PASS_COUNT)
 *   mark      what still has gc_refs > 0, and all it reaches, is marked;
 *             the work stack (h->work) lasts from one increment to the
 *             next (PASS_MARK)
 *   sweep     the old objects not marked are the candidates; they go on
 *             h->work (PASS_SWEEP)
 *   validate  the candidates are moved into generation 1's vector, and
 *             one ordinary collection of generations 0..1 takes them with
 *             the young (PASS_VALIDATE); the survivors go back to their
 *             places (restore). Then the next pass begins.
 *
 * Between increments the graph changes, so the counts and the marks are
 * only an estimate for the objects in use: one moved from an unmarked
 * container into a marked one is missed by the mark, and becomes a
 * candidate. That costs work, not soundness: the validation is a trial
 * deletion done whole, on a subset, and such a subset's unreachable part
 * is garbage (all its references come from unreached members of it).
 *
 * Complete: let G be the objects that are garbage when a pass begins, and
 * stay so (a weak reference read may resurrect one; it is then not
 * garbage). A pass begins with a collection of generations 0..1, so G is
 * in the oldest generation. Nothing can reach G, so nothing changes it:
 * no member is freed, moved or written, and every reference to a member
 * comes from a member. The count walks each member once, whole, and
 * meets each of its references once: every member's gc_refs ends at 0.
 * The mark starts only from gc_refs > 0 and follows references: no
 * member is marked. The sweep lists them all; the validation holds all
 * their referrers, so it finds each unreachable and frees it. Garbage
 * made during a pass is freed by the end of the next.
 *
 * Work, bounded per increment: an increment walks increment_objects units
 * (an object walked, or a reference followed) of the pass, after its
 * collection of the young; up to twice that when the pacing's debt is
 * larger, and never more. An object's references are walked in slices
 * when its type describes them (rcl_ref arrays and vectors: list, tuple,
 * closure, map), so a container of millions takes many increments; a
 * type's own traverse is called whole. The validation's pause is that of
 * a collection of the young and the candidates: the garbage it frees,
 * which freeing costs anyway, and the objects in use that the mutator
 * moved while the pass ran. An increment that walked more than twice its
 * units, or validated more candidates than that, is counted
 * (increments_oversized_total).
 *
 * Membership: the bits F_COUNTED and F_MARKED are read against h->epoch,
 * which a pass flips as it begins; every survivor of a collection gets
 * both (survive), so what reaches the oldest generation during a pass is
 * outside it (counted and marked), and at the flip every old object is
 * inside the next. An object on h->work is GRAY, its gc_refs its place
 * there; one freed meanwhile leaves a NULL (gc_ungray). The count's
 * partly walked object is h->part, known by its address at the cursor.
 *
 * Pacing, by bytes: a pass must end within pass_budget() bytes of the
 * heap's growth, half what a stop-the-world full collection waits for
 * (max(young_bytes, a quarter of the heap), full_by_bytes), so old
 * garbage is found within the same figure as before; past the watchdog's
 * soft level, within admission's young trigger, twice over (the headroom
 * to hard shared by the heaps, halved). Each collection adds pass_work /
 * budget units per byte of growth to the debt; one whose debt reaches a
 * sixteenth of increment_objects (or what is left of the pass, if
 * smaller) runs as an increment and pays it off (increment_due). pass_work
 * is 4 walks of the objects (the count, the mark's root scan and its walk,
 * the sweep) and 2 of the references (the last pass's count, until this
 * one's is known). The debt is paid at twice increment_objects an
 * increment at most, and 1 ms of walking (pass_step): when the heap grows
 * faster than that follows (a vector doubling at once adds as much debt
 * as a pass), the next collections come sooner (come_sooner), and the pass
 * may end late, rather than an increment running long. (Measured at four
 * times increment_objects: 40000 units of a cache scattered in memory took
 * 5 ms, 120 ns a unit.)
 * The level growth is counted from is the heap's highest, which follows a
 * shrinking heap down (a 64th of the way at each collection), so a pass
 * moves on when garbage fills a heap that shrank. On an incremental heap
 * the count trigger counts only the young (free_counts), so that the
 * young generation stays small.
 *
 * Memory: h->work grows as the mark needs (a slice of references at a
 * time, so a wide container adds at most a slice). If it cannot, or the
 * validation cannot move a candidate, the pass is marked incomplete and a
 * stop-the-world full collection ends it instead.
 */

#define OLD (RCL_GENERATIONS - 1)
#define SET_GEN (RCL_GENERATIONS - 2) /* where the candidates go */
#define PASS_MIN_BYTES ((size_t)256 << 10)

enum {
	PASS_IDLE,     /* none under way: the next increment begins one */
	PASS_COUNT,
	PASS_MARK,
	PASS_SWEEP,
	PASS_VALIDATE, /* the candidates are on h->work */
};

static inline bool counted(const rcl_heap *h, const rcl_head *o)
{
	return (o->flags & F_COUNTED) == (h->epoch & F_COUNTED);
}

static inline bool marked(const rcl_heap *h, const rcl_head *o)
{
	return (o->flags & F_MARKED) == (h->epoch & F_MARKED);
}

/* Objects of the oldest generation the pass has yet to walk, summed over
 * its walks (the count, the mark, the sweep): an estimate, for the stats. */
size_t gc_old_pending(const rcl_heap *h)
{
	const rcl_vec *v = &h->vec[OLD];
	size_t n = h->pass_objects, left;

	switch (h->pass_phase) {
	case PASS_COUNT:
		left = v->limit > v->cursor ? v->limit - v->cursor : 0;
		return left + 2 * n;
	case PASS_MARK:
		return (n > h->pass_marked ? n - h->pass_marked : 0) + n;
	case PASS_SWEEP:
		return v->limit > v->cursor ? v->limit - v->cursor : 0;
	case PASS_VALIDATE:
		return h->work_n;
	default:
		return 0;
	}
}

/* Room for one more on h->work; false if memory is short. */
static bool work_reserve(rcl_heap *h)
{
	uint32_t cap = h->work_cap ? h->work_cap * 2 : 1024;
	struct pass_entry *p;

	if (h->work_n < h->work_cap)
		return true;
	if (h->work_cap >= UINT32_MAX / 2)
		return false;
	p = heap_raw_realloc(h, h->work, h->work_cap * sizeof(*p),
			     cap * sizeof(*p));
	if (p == NULL)
		return false;
	h->work = p;
	h->work_cap = cap;
	return true;
}

/* Put o on h->work, GRAY; false if memory is short. */
static bool work_push(rcl_heap *h, rcl_head *o)
{
	if (!work_reserve(h))
		return false;
	h->work[h->work_n].o = o;
	h->work[h->work_n].pos = 0;
	h->work[h->work_n].items = NULL;
	h->work[h->work_n].restarted = false;
	o->gc_refs = h->work_n++;
	o->flags |= F_GRAY;
	return true;
}

/* Empty h->work, clearing GRAY on what it holds. */
static void work_clear(rcl_heap *h)
{
	for (uint32_t i = 0; i < h->work_n; i++)
		if (h->work[i].o != NULL)
			h->work[i].o->flags &= ~(uint32_t)F_GRAY;
	h->work_n = 0;
}

void gc_pass_abort(rcl_heap *h)
{
	work_clear(h);
	h->part = NULL;
	h->pass_phase = PASS_IDLE;
}

/* Every object of the oldest generation outside the aborted pass, as a
 * survivor is: the next pass's flip takes them all in. */
static void pass_outside(rcl_heap *h)
{
	rcl_vec *v = &h->vec[OLD];

	for (uint32_t i = 0; i < v->n; i++)
		if (v->v[i] != NULL)
			v->v[i]->flags = (v->v[i]->flags &
					  ~(uint32_t)(F_COUNTED | F_MARKED)) |
					 h->epoch;
}

/* Whether a walk of the oldest vector has reached the pass's limit (or
 * the vector's end, which frees may have brought below it). */
static inline bool at_limit(const rcl_vec *v)
{
	return v->cursor >= v->limit || v->cursor >= v->n;
}

/* Mark o and put it on h->work; false if memory is short. */
static bool mark_push(rcl_heap *h, rcl_head *o)
{
	if (!work_push(h, o))
		return false;
	o->flags ^= F_MARKED;
	h->pass_marked++;
	return true;
}

/* What the pass's walks pass their visitors. */
struct pass_walk {
	rcl_heap *h;
	size_t work; /* references followed */
	bool failed; /* a push found memory short */
};

/* Counted from now on: gc_refs starts at refcnt (first met, as the object
 * walked or as a reference). */
static inline void count_init(rcl_head *o)
{
	o->gc_refs = (uintptr_t)o->refcnt;
	o->flags ^= F_COUNTED;
}

/* A reference the pass follows: its object if it is in the pass (old, not
 * marked), else NULL; a unit of work either way. */
static inline rcl_head *pass_member(struct pass_walk *p, void *child)
{
	rcl_head *c;

	p->work++;
	if (!child)
		return NULL;
	c = HEAD(child);
	if (head_gen(c) != OLD || marked(p->h, c))
		return NULL; /* outside the pass */
	return c;
}

/* The count: a reference from an old object. */
static inline void count_member(void *child, void *arg)
{
	struct pass_walk *p = arg;
	rcl_head *c = pass_member(p, child);

	if (c == NULL)
		return;
	if (!counted(p->h, c))
		count_init(c);
	c->gc_refs--; /* may go below zero: the graph changes meanwhile */
}

static void visit_count(void *child, const char *field, void *arg)
{
	(void)field;
	count_member(child, arg);
}

/* The mark: a reference from a marked object. */
static inline void mark_old(void *child, void *arg)
{
	struct pass_walk *p = arg;
	rcl_head *c = pass_member(p, child);

	if (c != NULL && !mark_push(p->h, c))
		p->failed = true;
}

static void visit_mark_old(void *child, const char *field, void *arg)
{
	(void)field;
	mark_old(child, arg);
}

/* Call member for o's references from *pos on, max of them where the type
 * describes them (a traverse is called whole, from 0); *pos moves on.
 * True when o has none left. */
static inline __attribute__((always_inline)) bool
walk_slice(rcl_head *o, size_t *pos, size_t max,
	   void (*member)(void *, void *), rcl_visit_fn visit, void *arg)
{
	const rcl_tinfo *ti = o->ti;
	char *obj = OBJ(o);
	size_t from = *pos, end = from + max, k = 0;

	if (ti->walk == WALK_ARRAY || ti->walk == WALK_VECTOR) {
		size_t n = *(size_t *)(obj + ti->off[1]);
		void *const *items =
		    ti->walk == WALK_ARRAY ? (void *const *)(obj + ti->off[0])
					   : *(void *const *)(obj + ti->off[0]);

		for (k = from; k < n && k < end; k++)
			member(items[k], arg);
		*pos = k;
		return k >= n;
	}
	if (ti->walk == WALK_REFS) {
		const rcl_type *t = ti->type;

		for (const rcl_ref *r = t->refs, *e = r + t->nrefs; r < e; r++) {
			void *const *items;
			size_t n;

			if (r->kind == RCL_REF_FIELD) {
				if (k >= from && k < end)
					member(*(void **)(obj + r->offset), arg);
				k++;
				continue;
			}
			n = *(size_t *)(obj + r->len_offset);
			items = r->kind == RCL_REF_ARRAY
				    ? (void *const *)(obj + r->offset)
				    : *(void *const *)(obj + r->offset);
			for (size_t i = from > k ? from - k : 0;
			     i < n && k + i < end; i++)
				member(items[i], arg);
			k += n;
		}
		*pos = k < end ? k : end;
		return k <= end;
	}
	if (from == 0) /* fields, or the type's traverse: whole */
		for_each_ref(o, member, visit, arg);
	*pos = 1;
	return true;
}

/* Where o's walked-in-slices references are kept outside it: a vector's
 * items (the first vector of a table); NULL if none. When they move (a
 * list or map that grew, a map rehashed), the mark walks o again from its
 * first: the slots hold other objects now, and those not walked yet would
 * all be swept up as candidates, costing the validation its pause. */
static const void *slice_items(const rcl_head *o)
{
	const rcl_tinfo *ti = o->ti;
	const char *obj = OBJ(o);

	if (ti->walk == WALK_VECTOR)
		return *(void *const *)(obj + ti->off[0]);
	if (ti->walk == WALK_REFS) {
		const rcl_type *t = ti->type;

		for (size_t i = 0; i < t->nrefs; i++)
			if (t->refs[i].kind == RCL_REF_VECTOR)
				return *(void *const *)(obj +
							t->refs[i].offset);
	}
	return NULL;
}

/* The count, up to budget units; the units done. */
static size_t pass_count(rcl_heap *h, size_t budget)
{
	rcl_vec *v = &h->vec[OLD];
	struct pass_walk p = {h, 0, false};
	size_t objects = 0;

	while (!at_limit(v) && objects + p.work < budget) {
		rcl_head *o = v->v[v->cursor];
		size_t pos = 0, before = p.work;

		if (o == NULL || marked(h, o)) {
			v->cursor++;
			objects++;
			continue;
		}
		if (o == h->part)
			pos = h->part_pos;
		else if (!counted(h, o))
			count_init(o);
		objects++;
		if (!walk_slice(o, &pos, budget - objects - p.work + 1,
				count_member, visit_count, &p)) {
			h->part = o;
			h->part_pos = pos;
			h->pass_refs += p.work - before;
			break;
		}
		h->pass_refs += p.work - before;
		h->part = NULL;
		v->cursor++;
	}
	if (at_limit(v)) {
		h->part = NULL;
		h->refs_last = h->pass_refs;
		h->pass_work = 4 * h->pass_objects + 2 * h->pass_refs;
		v->cursor = 0;
		h->pass_phase = PASS_MARK;
	}
	return objects + p.work;
}

/* The mark, up to budget units; the units done. */
static size_t pass_mark(rcl_heap *h, size_t budget)
{
	rcl_vec *v = &h->vec[OLD];
	struct pass_walk p = {h, 0, false};
	size_t objects = 0;

	while (objects + p.work < budget && !p.failed) {
		uint32_t i;
		rcl_head *o;
		size_t pos;

		if (h->work_n == 0) { /* the next root */
			if (at_limit(v))
				break;
			o = v->v[v->cursor++];
			objects++;
			if (o != NULL && counted(h, o) && !marked(h, o) &&
			    (intptr_t)o->gc_refs > 0 && !mark_push(h, o))
				p.failed = true;
			continue;
		}
		i = h->work_n - 1;
		if ((o = h->work[i].o) == NULL) {
			h->work_n--;
			continue;
		}
		pos = h->work[i].pos;
		if (pos != 0 && !h->work[i].restarted &&
		    slice_items(o) != h->work[i].items) {
			/* moved: from its first again, once (a map rehashed
			 * at every increment would never be walked to its
			 * end otherwise) */
			pos = 0;
			h->work[i].restarted = true;
		}
		objects++;
		/* what it pushes goes above it: its place i stays */
		if (walk_slice(o, &pos, budget - objects - p.work + 1, mark_old,
			       visit_mark_old, &p)) {
			o->flags &= ~(uint32_t)F_GRAY;
			h->work[i].o = NULL;
		} else {
			h->work[i].pos = pos;
			h->work[i].items = slice_items(o);
		}
	}
	if (p.failed) {
		h->pass_incomplete = true;
	} else if (h->work_n == 0 && at_limit(v)) {
		v->cursor = 0;
		h->pass_phase = PASS_SWEEP;
	}
	return objects + p.work;
}

/* The sweep, up to budget units; the units done. */
static size_t pass_sweep(rcl_heap *h, size_t budget)
{
	rcl_vec *v = &h->vec[OLD];
	size_t objects = 0;

	while (!at_limit(v) && objects < budget) {
		rcl_head *o = v->v[v->cursor++];

		objects++;
		if (o != NULL && !marked(h, o) && !work_push(h, o)) {
			h->pass_incomplete = true;
			return objects;
		}
	}
	if (at_limit(v))
		h->pass_phase = PASS_VALIDATE;
	return objects;
}

/*
 * Walk the pass on by up to budget units (a slice may pass it by what one
 * traverse visits), and for STEP_NS at most: a unit costs 4 ns in a heap
 * walked in address order and 500 in a large map's values, in hash order,
 * each a cache and TLB miss (measured on this project's 2-CPU guest), so
 * units alone do not bound the pause. The time is read every STEP_SLICE
 * units. Returns the units done.
 */
#define STEP_NS 1000000ULL
#define STEP_SLICE 1024

static size_t pass_step(rcl_heap *h, size_t budget)
{
	uint64_t deadline = now_ns() + STEP_NS;
	size_t done = 0;

	while (done < budget && !h->pass_incomplete) {
		size_t d, part = budget - done;

		if (part > STEP_SLICE)
			part = STEP_SLICE;
		if (h->pass_phase == PASS_COUNT)
			d = pass_count(h, part);
		else if (h->pass_phase == PASS_MARK)
			d = pass_mark(h, part);
		else if (h->pass_phase == PASS_SWEEP)
			d = pass_sweep(h, part);
		else
			break;
		done += d;
		if (d == 0 && h->pass_phase != PASS_VALIDATE)
			break; /* nothing to do, yet not over: cannot be */
		if (now_ns() >= deadline)
			break;
	}
	h->pass_done += done;
	return done;
}

/*
 * A pass that ended did for the old garbage what a full collection does:
 * what is left is its survivor floor (the watchdog's growth and leak rules
 * read it), as after one (finish_counts).
 */
static void pass_end(rcl_heap *h)
{
	h->full_floor = heap_total_bytes(h);
	h->long_lived_total = vec_count(&h->vec[OLD]);
	h->long_lived_pending = 0;
	h->gens[OLD].count = 0;
}

/* Begin a pass: every object of the oldest generation is in it, neither
 * counted nor marked (the flip). The young were collected just before,
 * into the oldest generation. */
static void pass_begin(rcl_heap *h)
{
	rcl_vec *v = &h->vec[OLD];

	work_clear(h);
	h->epoch ^= F_COUNTED | F_MARKED;
	h->pass_phase = PASS_COUNT;
	v->cursor = 0;
	v->limit = v->n;
	h->part = NULL;
	h->pass_objects = vec_count(v);
	h->pass_refs = h->pass_marked = h->pass_done = 0;
	h->pass_work = 4 * h->pass_objects +
		       2 * (h->refs_last ? h->refs_last : h->pass_objects);
	h->pass_bytes = h->pace_total = heap_total_bytes(h);
	h->pressure_budget = 0;
	h->pass_incomplete = false;
	h->debt = 0;
	if (h->pass_objects != 0)
		h->st.old_passes_total++;
}

/* Net bytes of allocation within which the pass must end. */
static size_t pass_budget(const rcl_heap *h)
{
	size_t b = h->pass_bytes / 8, y = h->young_bytes / 2;

	if (b < y)
		b = y;
	if (b < PASS_MIN_BYTES)
		b = PASS_MIN_BYTES;
	if (h->pressure_budget != 0 && h->pressure_budget < b)
		b = h->pressure_budget;
	return b;
}

/*
 * The work owed now: the debt, and what the heap's growth past its recent
 * highest adds to it. Growth, not the young byte counter: that one stops
 * at zero when frees outrun allocations, so a cache replacing its entries,
 * never growing, counted nearly all it allocated, and passes ran back to
 * back; and past the highest (start_counts), or a heap going up and down
 * by a request's worth between collections would count each rise
 * (measured: a pass every 0.7 s). What does not grow the heap cannot fill
 * memory.
 */
static double pace_owed(const rcl_heap *h)
{
	size_t total = heap_total_bytes(h);
	size_t grown = total > h->pace_total ? total - h->pace_total : 0;

	return h->debt + (double)grown * (double)h->pass_work /
			     (double)pass_budget(h);
}

/* Room to note where the j+1 first candidates came from. */
static bool taken_reserve(rcl_heap *h, uint32_t n)
{
	uint32_t cap = h->taken_cap ? h->taken_cap : 1024;
	uint32_t *p;

	if (n <= h->taken_cap)
		return true;
	while (cap < n)
		cap *= 2;
	p = heap_raw_realloc(h, h->taken_from,
			     h->taken_cap * sizeof(*p), cap * sizeof(*p));
	if (p == NULL)
		return false;
	h->taken_from = p;
	h->taken_cap = cap;
	return true;
}

/* Move o, of the oldest generation, into generation 1's vector, leaving a
 * hole it goes back to if it survives (restore); false if memory is
 * short. */
static bool take_one(rcl_heap *h, rcl_head *o)
{
	size_t bytes = head_block(o);
	uint32_t j = h->vec[SET_GEN].n - h->taken_base;

	if (!vec_reserve(h, &h->vec[SET_GEN], 1) || !taken_reserve(h, j + 1))
		return false;
	h->taken_from[j] = o->idx;
	h->vec[OLD].v[o->idx] = NULL;
	h->vec[OLD].holes++;
	vec_push(h, &h->vec[SET_GEN], o);
	head_set_gen(o, SET_GEN);
	h->slot[OLD].bytes -= bytes;
	h->slot[SET_GEN].bytes += bytes;
	return true;
}

/* Move the candidates on h->work into generation 1's vector; how many. */
static size_t take_candidates(rcl_heap *h)
{
	size_t taken = 0;

	h->taken_base = h->vec[SET_GEN].n;
	for (uint32_t i = 0; i < h->work_n; i++) {
		rcl_head *o = h->work[i].o;

		if (o == NULL)
			continue;
		o->flags &= ~(uint32_t)F_GRAY;
		if (!h->pass_incomplete && take_one(h, o))
			taken++;
		else
			h->pass_incomplete = true;
	}
	h->work_n = 0;
	return taken;
}

/*
 * On an incremental heap, what a collection appended to the oldest vector
 * (its survivors, outside the pass, so any place will do) fills the holes
 * that frees left there, scanning on from where the last fill stopped, a
 * bounded stretch per call: otherwise they pile up until the vector is
 * compacted, a walk of the whole (free_counts), the very pause increments
 * avoid. from: the vector's length before the collection.
 */
static void fill_holes(rcl_heap *h, uint32_t from)
{
	rcl_vec *v = &h->vec[OLD];
	size_t budget = 4096 + 8 * (size_t)(v->n > from ? v->n - from : 0);

	while (v->n > from && v->holes > 0 && budget > 0) {
		rcl_head *o = v->v[v->n - 1];

		while (h->fill < v->n - 1 && v->v[h->fill] != NULL && budget) {
			h->fill++;
			budget--;
		}
		if (h->fill >= v->n - 1) {
			h->fill = 0; /* the next call starts over */
			return;
		}
		if (v->v[h->fill] != NULL)
			return; /* out of budget */
		v->v[h->fill] = o;
		o->idx = h->fill;
		v->n--;
		v->holes--;
		vec_pop_holes(v);
	}
}

/* Count an increment's pause in its own histogram too. */
static void record_increment(rcl_heap *h, uint64_t ns)
{
	h->st.increments_total++;
	h->st.increment_pause_total_ns += ns;
	if (ns > h->st.increment_pause_max_ns)
		h->st.increment_pause_max_ns = ns;
	h->st.increment_pause_hist[pause_bucket(ns)]++;
}

/*
 * The pass is behind (the debt is larger than an increment walks): the
 * next collection, and so the next increment, comes after an eighth of
 * the young generation's triggers, as if the rest were allocated already.
 * Increments stay bounded and come more often, rather than longer (Go's
 * collector has allocation pay for marking the same way).
 */
static void come_sooner(rcl_heap *h)
{
	size_t t = h->gens[0].threshold, y = h->young_bytes;

	if (t >= 8 && h->gens[0].count < t - t / 8)
		h->gens[0].count = t - t / 8;
	if (y >= 8 && h->young_bytes_since < y - y / 8)
		h->young_bytes_since = y - y / 8;
}

/*
 * One increment: a collection of generations 0..gen (0..1 when a pass
 * begins, and with the candidates when it is validated), then the pass
 * walked on by its units (above).
 */
static size_t gc_increment(rcl_heap *h, int gen, int reason)
{
	struct split_info si = {0, 0, false, false, true};
	size_t uncollectable = 0, taken = 0, units, done = 0;
	bool validate = h->pass_phase == PASS_VALIDATE;
	bool begin = validate || h->pass_phase == PASS_IDLE;
	uint32_t n_old;
	uint64_t t0;

	if (begin)
		gen = SET_GEN;
	if (!collect_begin(h, gen, &t0))
		return 0;
	units = h->increment_objects;
	if (h->debt < (double)units) {
		if (reason != REASON_MANUAL) /* rcl_collect_increment: whole */
			units = (size_t)h->debt + 1; /* what is owed */
	} else
		units = h->debt < 2.0 * (double)units ? (size_t)h->debt
						      : 2 * units;
	n_old = h->vec[OLD].n;
	h->restored = 0;
	if (validate)
		taken = take_candidates(h);
	collect_set(h, gen, &si, &uncollectable);
	h->taken_base = UINT32_MAX;
	vec_pop_holes(&h->vec[OLD]); /* what was taken from its end */
	fill_holes(h, n_old);
	/* old objects going back are not newly long-lived */
	si.survivors -= h->restored < si.survivors ? h->restored
						     : si.survivors;
	if (validate && !h->pass_incomplete)
		pass_end(h);
	if (begin && !h->pass_incomplete)
		pass_begin(h);
	else if (!begin)
		done = pass_step(h, units);
	h->debt = h->debt > (double)done ? h->debt - (double)done : 0;
	if (h->debt >= (double)h->increment_objects)
		come_sooner(h);
	if (done > 2 * units || taken > 2 * h->increment_objects)
		h->st.increments_oversized_total++;
	collect_end(h, gen, reason, &si, uncollectable, t0);
	return si.garbage;
}

/*
 * Whether the debt calls for an increment: a sixteenth of increment_objects
 * owed, or the rest of the pass (smaller than that: the debt is capped
 * there, and a pass that began over few objects must still end). A small
 * share, so that the work is spread over the young collections as it is
 * owed, each a little longer, rather than gathered into fewer, longer
 * pauses: with twenty requests queued on a worker, each pause delays them
 * all (measured on the growing cache at -c20: increments of 10000 units,
 * due at 10000 owed, gave p99 2.4 ms against a median of 0.76).
 */
static bool increment_due(const rcl_heap *h)
{
	double owed = pace_owed(h);
	size_t left = h->pass_work > h->pass_done
			  ? h->pass_work - h->pass_done
			  : 1;

	return h->pass_phase == PASS_IDLE ||
	       owed >= (double)(h->increment_objects / 16) ||
	       owed >= (double)left;
}

/*
 * Run the collection of 0..gen that pacing asked for; on an incremental
 * heap whose oldest generation is larger than an increment
 * (heap_incremental_now), an increment when the debt calls for one, and
 * never a whole collection of the oldest generation, but when memory cut
 * a pass short.
 */
static void collect_auto(rcl_heap *h, int gen, int reason)
{
	if (heap_incremental_now(h)) {
		if (h->pass_incomplete) {
			gc_collect(h, OLD, reason);
			return;
		}
		if (gen == OLD)
			gen = SET_GEN;
		if (increment_due(h)) {
			gc_increment(h, gen, reason);
			return;
		}
	}
	gc_collect(h, gen, reason);
}

/* One increment now (rcl_set_incremental). */
size_t rcl_collect_increment(rcl_heap *h)
{
	if (!h) {
		errno = EINVAL;
		return 0;
	}
	HEAP_CHECK_OWNER(h);
	if (h->collecting || h->dealloc_depth > 0) {
		errno = EBUSY;
		return 0;
	}
	if (h->pass_incomplete)
		return gc_collect(h, OLD, REASON_MANUAL);
	return gc_increment(h, SET_GEN, REASON_MANUAL);
}

/*
 * Byte rule for a full collection: the heap grew by more than
 * max(young_bytes, a quarter of what survived the last full collection),
 * CPython's long-lived heuristic applied to bytes.
 */
static bool full_by_bytes(const rcl_heap *h)
{
	size_t total = heap_total_bytes(h);
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
	collect_auto(h, pick_generation(h, by_bytes),
		     by_count ? REASON_COUNT : REASON_BYTES);
}

/*
 * Admission's pacing past the watchdog's soft level (admit.c): collect, as
 * gc_maybe_collect() would with trigger for a byte trigger, when taking
 * new_bytes would pass it; true if it collected.
 */
bool gc_collect_paced(rcl_heap *h, size_t new_bytes, size_t trigger)
{
	if (h->young_bytes_since + new_bytes <= trigger)
		return false;
	size_t budget = trigger > SIZE_MAX / 2 ? SIZE_MAX : trigger * 2;

	/* the pass ends within twice this (pass_budget): its garbage is
	 * found before the headroom to hard is spent; again after, for a
	 * pass that began there (pass_begin) */
	h->pressure_budget = budget;
	collect_auto(h, pick_generation(h, true), REASON_LIMIT);
	if (h->incremental) {
		h->pressure_budget = budget;
		/* behind: sooner, as come_sooner() does for the young's */
		if (h->debt >= (double)h->increment_objects &&
		    h->young_bytes_since < trigger - trigger / 8)
			h->young_bytes_since = trigger - trigger / 8;
	}
	return true;
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

void rcl_set_collect_hook(rcl_heap *h, rcl_collect_hook_fn fn, void *arg)
{
	if (!h)
		return;
	h->collect_hook = fn;
	h->collect_hook_arg = arg;
}

size_t rcl_garbage_count(const rcl_garbage *g)
{
	return g ? g->count : 0;
}

/* Call fn for each member of the unreachable set. */
void rcl_garbage_foreach(const rcl_garbage *g, void (*fn)(void *, void *),
			 void *arg)
{
	rcl_head *o;

	if (!g || !fn)
		return;
	FOR_SET(g->h, g->generation, o)
	{
		if (IS_GARBAGE(o))
			fn(OBJ(o), arg);
	}
}

/* Is obj in the unreachable set being reported? */
bool rcl_garbage_contains(const rcl_garbage *g, const void *obj)
{
	return g && obj && IS_GARBAGE(HEAD(obj));
}

/*
 * The collector's controls: automatic collection on or off, the count
 * thresholds and the young byte trigger that pace it (gc_maybe_collect),
 * and the permanent generation that freezing fills.
 */

void rcl_auto_collect(rcl_heap *h, bool on)
{
	if (h)
		h->enabled = on;
}

bool rcl_auto_collect_enabled(const rcl_heap *h)
{
	return h && h->enabled;
}

/* Set the count thresholds, as gc.set_threshold(). */
void rcl_set_thresholds(rcl_heap *h, const size_t thresholds[RCL_GENERATIONS])
{
	if (!h || !thresholds)
		return;
	for (int i = 0; i < RCL_GENERATIONS; i++)
		h->gens[i].threshold = thresholds[i];
}

void rcl_set_young_bytes(rcl_heap *h, size_t bytes)
{
	if (h)
		h->young_bytes = bytes;
}

size_t rcl_young_bytes(const rcl_heap *h)
{
	return h ? h->young_bytes : 0;
}

/* Incremental collection of the oldest generation on or off; switched
 * on, the first pass begins with the next collection. */
void rcl_set_incremental(rcl_heap *h, bool on)
{
	if (h)
		h->incremental = on;
}

bool rcl_incremental(const rcl_heap *h)
{
	return h && h->incremental;
}

void rcl_set_increment_objects(rcl_heap *h, size_t objects)
{
	if (h)
		h->increment_objects = objects ? objects : 1;
}

size_t rcl_increment_objects(const rcl_heap *h)
{
	return h ? h->increment_objects : 0;
}

/* Move every object of the vectors from..to into gen's vector; false
 * (nothing moved) if memory is short. */
static bool move_all(rcl_heap *h, unsigned from, unsigned to, unsigned gen)
{
	size_t n = 0;

	for (unsigned g = from; g <= to; g++)
		n += g == gen ? 0 : h->vec[g].n;
	if (!vec_reserve(h, &h->vec[gen], n))
		return false;
	for (unsigned g = from; g <= to; g++) {
		rcl_vec *v = &h->vec[g];

		if (g == gen)
			continue;
		for (uint32_t i = 0; i < v->n; i++) {
			rcl_head *o = v->v[i];

			if (!o)
				continue;
			head_set_gen(o, gen);
			o->idx = h->vec[gen].n;
			h->vec[gen].v[h->vec[gen].n++] = o;
		}
		v->n = v->holes = 0;
		h->slot[gen].bytes += h->slot[g].bytes;
		h->slot[g].bytes = 0;
	}
	return true;
}

/* Move every tracked object to the permanent generation. */
void rcl_freeze(rcl_heap *h)
{
	if (!h || h->collecting)
		return;
	HEAP_CHECK_OWNER(h);
	gc_pass_abort(h);
	if (!move_all(h, 0, RCL_GENERATIONS - 1, GEN_PERMANENT)) {
		pass_outside(h); /* nothing moved: the next pass begins whole */
		return;
	}
	for (int i = 0; i < RCL_GENERATIONS; i++)
		h->gens[i].count = 0;
}

/* Move the permanent generation back into the oldest one. */
void rcl_unfreeze(rcl_heap *h)
{
	if (!h || h->collecting)
		return;
	HEAP_CHECK_OWNER(h);
	gc_pass_abort(h);
	move_all(h, GEN_PERMANENT, GEN_PERMANENT, RCL_GENERATIONS - 1);
	pass_outside(h);
}

size_t rcl_freeze_count(const rcl_heap *h)
{
	return h ? vec_count(&h->vec[GEN_PERMANENT]) : 0;
}
