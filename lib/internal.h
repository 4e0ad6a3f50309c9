/*
 * libreclaim internals: the object header, the heap, list primitives.
 *
 * Every managed object is preceded by an rcl_head. Every live object is on
 * exactly one list of its heap, named by the GEN bits of its flags:
 *
 *   gen 0, 1, 2    tracked objects, youngest to oldest (the collector's
 *                  generations)
 *   PERMANENT      tracked objects moved there by rcl_freeze()
 *   UNTRACKED      objects whose type has no traverse: never collected,
 *                  freed by reference counting or with their heap
 *   GARBAGE        during a collection: the unreachable set, and what is
 *                  left of it while it is finalized and cleared
 *   TRASH          refcount reached zero inside another deallocation: waits
 *                  on h->trash so that freeing a long chain never recurses
 *
 * heap->slot[gen] counts the objects and bytes on each list, so stats are
 * read in O(1) and the per-type table in O(number of types).
 *
 * IMPORTANT, the states of gc_refs and the COLLECTING/UNREACHABLE flags:
 *   - Outside a collection, gc_refs is unused and neither flag is set.
 *   - update_refs(): every object of the generations being collected gets
 *     COLLECTING and gc_refs = refcnt.
 *   - subtract_refs(): gc_refs is decremented for each reference from
 *     another COLLECTING object; what remains counts references from
 *     outside the set. gc_refs >= 0 always (a traverse that reports more
 *     references than it owns is a bug in that type: asserted).
 *   - move_unreachable(): objects with gc_refs > 0, and everything they
 *     reach, are reachable: COLLECTING is cleared as each is scanned. The
 *     rest end on the unreachable list with COLLECTING|UNREACHABLE.
 *   - From then to the end of the collection, the unreachable set keeps
 *     COLLECTING (so that a second pass can tell members apart) and its
 *     objects carry GEN = GARBAGE.
 */
#ifndef RECLAIM_INTERNAL_H
#define RECLAIM_INTERNAL_H

#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#include <reclaim/heap.h>

typedef struct rcl_link {
	struct rcl_link *next;
	struct rcl_link *prev;
} rcl_link;

/* Per heap, per type: live objects and bytes. */
typedef struct rcl_tinfo {
	const rcl_type *type;
	rcl_heap *heap;
	size_t objects;
	size_t bytes;
} rcl_tinfo;

/* Rarely needed per-object state, allocated on first use. */
typedef struct rcl_ext {
	size_t owned;	   /* bytes owned outside the heap */
	rcl_weakref *weak; /* weak references to this object */
} rcl_ext;

typedef struct rcl_head {
	rcl_link link; /* on the list named by the GEN bits */
	intptr_t refcnt;
	intptr_t gc_refs; /* during a collection only */
	rcl_tinfo *ti;
	size_t size; /* user bytes */
	rcl_ext *ext;
	uintptr_t flags;
} rcl_head;

_Static_assert(sizeof(rcl_head) % alignof(max_align_t) == 0,
	       "objects must stay aligned for any type");

enum {
	GEN_MASK = 0x7,
	GEN_PERMANENT = 3,
	GEN_UNTRACKED = 4,
	GEN_GARBAGE = 5,
	GEN_TRASH = 6,
	NSLOTS = 7,

	F_COLLECTING = 1 << 3,
	F_UNREACHABLE = 1 << 4,
	F_FINALIZED = 1 << 5,
	F_CLEARED = 1 << 6,
};

#define HEAD(obj) ((rcl_head *)(obj)-1)
#define OBJ(head) ((void *)((rcl_head *)(head) + 1))
#define LINK_HEAD(l) ((rcl_head *)(l))

typedef struct rcl_slot {
	size_t objects;
	size_t bytes;
} rcl_slot;

typedef struct rcl_gen {
	rcl_link head;
	size_t count;
	size_t threshold;
	uint64_t collections;
	uint64_t collected;
	uint64_t uncollectable;
} rcl_gen;

struct rcl_heap {
	rcl_gen gens[RCL_GENERATIONS];
	rcl_link lists[NSLOTS]; /* heads for PERMANENT..TRASH; 0..2 unused */
	rcl_slot slot[NSLOTS];
	rcl_allocator alloc;
	pthread_t owner;

	/* pacing */
	bool enabled;
	bool collecting;
	bool destroying;
	int dealloc_depth;
	size_t young_bytes;	  /* byte trigger, 0 = off */
	size_t young_bytes_since; /* net bytes allocated since gen 0 */
	size_t full_floor;	  /* bytes surviving the last full collection */
	size_t long_lived_total;  /* objects surviving the last full one */
	size_t long_lived_pending; /* objects promoted to gen 2 since */

	/* per-type table: open addressing by type pointer */
	rcl_tinfo **types;
	size_t ntypes;
	size_t types_cap;
	rcl_tinfo *last_ti;

	rcl_observer_fn observer;
	void *observer_arg;

	rcl_stats st; /* the counters; lists and slots are filled on read */
};

/* Lists: circular, doubly linked, with a sentinel head. */
static inline void list_init(rcl_link *l)
{
	l->next = l->prev = l;
}

static inline int list_empty(const rcl_link *l)
{
	return l->next == l;
}

static inline void list_unlink(rcl_link *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
}

static inline void list_append(rcl_link *n, rcl_link *l)
{
	n->prev = l->prev;
	n->next = l;
	l->prev->next = n;
	l->prev = n;
}

/* Move every node of from to the end of to; from becomes empty. */
static inline void list_merge(rcl_link *from, rcl_link *to)
{
	if (list_empty(from))
		return;
	to->prev->next = from->next;
	from->next->prev = to->prev;
	to->prev = from->prev;
	from->prev->next = to;
	list_init(from);
}

static inline unsigned head_gen(const rcl_head *o)
{
	return (unsigned)(o->flags & GEN_MASK);
}

static inline void head_set_gen(rcl_head *o, unsigned gen)
{
	o->flags = (o->flags & ~(uintptr_t)GEN_MASK) | gen;
}

/* The list head for a slot (generations live in gens[]). */
static inline rcl_link *heap_list(rcl_heap *h, unsigned gen)
{
	return gen < RCL_GENERATIONS ? &h->gens[gen].head : &h->lists[gen];
}

static inline size_t head_bytes(const rcl_head *o)
{
	return sizeof(rcl_head) + o->size + (o->ext ? o->ext->owned : 0);
}

#ifndef NDEBUG
void heap_check_owner(const rcl_heap *h);
#define HEAP_CHECK_OWNER(h) heap_check_owner(h)
#else
#define HEAP_CHECK_OWNER(h) ((void)0)
#endif

/* heap.c */
void heap_dealloc(rcl_head *o);
void heap_free_memory(rcl_heap *h, rcl_head *o);
void heap_relink(rcl_heap *h, rcl_head *o, unsigned gen);
rcl_ext *heap_ext(rcl_head *o);
void *heap_raw_alloc(rcl_heap *h, size_t size);
void heap_raw_free(rcl_heap *h, void *p, size_t size);

/* gc.c */
size_t gc_collect(rcl_heap *h, int generation, int reason);
void gc_maybe_collect(rcl_heap *h, size_t new_bytes);
enum { REASON_MANUAL, REASON_COUNT, REASON_BYTES, REASON_ALLOC };

/* weakref.c */
void weakref_clear_all(rcl_head *o, rcl_weakref **callbacks);
void weakref_run_callbacks(rcl_weakref *callbacks);
void weakref_drop_callbacks(rcl_weakref *callbacks);

#endif
