/*
 * libreclaim internals: the object header, the heap, its vectors and pool.
 *
 * Every managed object is preceded by an rcl_head. Every live object is in
 * exactly one of its heap's vectors (arrays of object pointers), named by the
 * GEN bits of its flags; head->idx is its position there:
 *
 *   gen 0, 1, 2    tracked objects, youngest to oldest (the generations)
 *   PERMANENT      tracked objects moved there by rcl_freeze()
 *   UNTRACKED      objects whose type has no traverse: never collected,
 *                  freed by reference counting or with their heap
 *
 * An object whose refcount reaches zero inside another deallocation stays in
 * its vector and waits on h->trash (linked through gc_refs), freed by the
 * outermost deallocation: freeing a long chain never recurses. Collections
 * cannot start while anything waits there.
 *
 * Why vectors and not CPython's linked lists: a collection walks each
 * generation several times, and a list walk is a chain of dependent loads,
 * one cache miss after another. A vector gives the next addresses ahead of
 * time, and is mostly in address order, so the hardware prefetches them.
 * A freed object leaves a hole (NULL) unless it was last; a vector is
 * compacted when half of it is holes, and after each collection.
 *
 * heap->slot[gen] counts the objects and bytes of each vector, so stats are
 * O(1) to read and the per-type table O(number of types).
 *
 * IMPORTANT, the states of gc_refs and the collector's flags:
 *   - Outside a collection, gc_refs is unused and no collector flag is set.
 *   - subtract_refs(): every object of the generations collected gets
 *     COLLECTING and gc_refs = refcnt when first met, then gc_refs is
 *     decremented for each reference from another member; what remains
 *     counts references from outside the set. gc_refs >= 0 always (a
 *     traverse that reports more references than it owns is a bug in that
 *     type: asserted).
 *   - mark_reachable(): objects with gc_refs > 0, and all they reach, get
 *     REACHABLE; while an object waits to be scanned, gc_refs holds the next
 *     one on the work stack (its count is no longer needed).
 *   - From then to the end of the collection, COLLECTING without REACHABLE
 *     (IS_GARBAGE) means "in the unreachable set".
 *   - split: REACHABLE objects leave the set (flags cleared, promoted to the
 *     next generation's vector); the garbage stays in place until deleted.
 *   - delete: each member is cleared (CLEARED) in vector order and freed as
 *     soon as its count is zero; while h->deleting, a member not yet
 *     cleared whose count drops to zero waits until the delete reaches it.
 *   - Outside a collection, gc_refs links the objects waiting on h->trash.
 *   - COUNTED, MARKED and GRAY (any time) belong to the incremental pass
 *     over the oldest generation (gc.c, "Incremental collection"): they
 *     mean something only there. COUNTED and MARKED are read against
 *     h->epoch, which a pass flips as it begins; survive() sets both to it
 *     on every survivor (counted and marked: outside the pass under way).
 *     While the pass counts, a COUNTED object's gc_refs is its count; a
 *     GRAY one is in h->work, its gc_refs its place there, and
 *     rcl_dealloc() takes it out (gc_ungray) before anything else uses
 *     gc_refs.
 */
#ifndef RECLAIM_INTERNAL_H
#define RECLAIM_INTERNAL_H

#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#include <reclaim/heap.h>

/*
 * RCL_ASAN: built with AddressSanitizer (gcc says __SANITIZE_ADDRESS__,
 * clang __has_feature). Then the pool is off, so that ASan sees every
 * object, and what the heap maps from the kernel (vectors, large blocks) is
 * declared to LeakSanitizer as a root region: the pointers it holds keep
 * their objects "reachable", as they do (LSan scans no anonymous mapping
 * otherwise, and reported every cycle awaiting collection as a leak).
 */
#if defined(__SANITIZE_ADDRESS__)
#define RCL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RCL_ASAN 1
#endif
#endif
#ifndef RCL_ASAN
#define RCL_ASAN 0
#endif
#if RCL_ASAN
#include <sanitizer/lsan_interface.h>
#define lsan_mapped(p, n) __lsan_register_root_region((p), (n))
#define lsan_unmapping(p, n) __lsan_unregister_root_region((p), (n))
#else
#define lsan_mapped(p, n) ((void)(p), (void)(n))
#define lsan_unmapping(p, n) ((void)(p), (void)(n))
#endif

/* Everything declared here is the library's own: not exported. */
#pragma GCC visibility push(hidden)

/*
 * How the collector walks a type's references (refs.c compiles a type's
 * rcl_ref table into one of these at its first object on a heap): a few
 * fields, one array, one vector, each with its offsets here, in the line
 * the object's header points to; or the table entry by entry, or the type's
 * traverse. One switch per object, straight code per shape: a loop over
 * the table, with a branch per entry on its kind, mispredicted from one
 * object to the next, cost a third of a collection.
 */
enum {
	WALK_NONE,	/* no references: untracked */
	WALK_TRAVERSE,	/* the type's callback */
	WALK_F1,	/* 1 to 4 pointer fields at off[0..] */
	WALK_F2,
	WALK_F3,
	WALK_F4,
	WALK_ARRAY,	/* an array at off[0], its length at off[1] */
	WALK_VECTOR,	/* a pointer to one at off[0], length at off[1] */
	WALK_REFS,	/* anything else: the table, entry by entry */
};

/* Per heap, per type: live objects and bytes, and what the type's first
 * object here found out about it (refs.c checked its description). */
typedef struct rcl_tinfo {
	const rcl_type *type;
	rcl_heap *heap;
	size_t objects;
	size_t bytes;
	bool align8;  /* its objects need 8-byte alignment at most */
	size_t total; /* rcl_new()'s bytes: header and user, aligned */
	/* the type's traverse, here in the line the header points to */
	void (*traverse)(void *self, rcl_visit_fn visit, void *arg);
	bool tracked;	 /* refs or traverse: the collector's */
	bool opaque;	 /* its clear is its own (or it has only traverse) */
	uint8_t walk;	 /* WALK_* */
	uint32_t off[4]; /* its offsets */
	size_t extent;	 /* bytes its refs read: rcl_new_var's least size */
	/* for rcl_new() and rcl_dealloc() without a call: */
	uint8_t gen;	 /* where its objects start: 0, or GEN_UNTRACKED */
	int16_t cls;	 /* the pool class of total; -1: not pooled, or
			    the heap records sites (sites.c) */
	int16_t pool_cls; /* the pool class of total, or -1 */
	bool inert;	 /* freeing one runs nothing: no finalize, destroy
			    or clear, derived or its own */
	bool described;	 /* its clear is the derived one, and all it runs:
			    inert once its references are empty */
} rcl_tinfo;

/* What few objects carry, kept out of their headers (headmap.c): open
 * addressing on the header's address, one word a key. The heap has two:
 * weak (the first of a referent's weak references, objects with F_WEAK)
 * and owned (the bytes an object owns outside the heap, F_OWNED). */
typedef struct rcl_head rcl_head;

typedef struct rcl_headmap {
	rcl_head **keys;
	uintptr_t *vals;
	size_t n;
	size_t cap; /* a power of two, or 0 */
} rcl_headmap;

/*
 * The header: what every object needs on the hot paths, and nothing else.
 * Its size is not in it: a pooled object's block is its page's size class
 * (a page header's read), and an object too large for the pool (F_BIG) has
 * its block's size in a prefix of BIG_PREFIX bytes before the header. Its
 * owned bytes, rare, are in the heap's owned map (F_OWNED).
 */
struct rcl_head {
	intptr_t refcnt;
	uintptr_t gc_refs; /* during a collection only */
	rcl_tinfo *ti;
	uint32_t idx; /* position in the vector named by GEN */
	uint32_t flags;
};

#define BIG_PREFIX 16 /* keeps the header, and so the object, 16-aligned */

_Static_assert(sizeof(rcl_head) % alignof(max_align_t) == 0,
	       "objects must stay aligned for any type");
_Static_assert(sizeof(rcl_head) == RCL_HEAD_BYTES &&
		   offsetof(rcl_head, refcnt) == 0,
	       "the inline rcl_incref() and rcl_decref() know the header");

enum {
	GEN_MASK = 0x7,
	GEN_PERMANENT = 3,
	GEN_UNTRACKED = 4,
	NSLOTS = 5,

	F_COLLECTING = 1 << 3,
	F_REACHABLE = 1 << 4,
	F_FINALIZED = 1 << 5,
	F_CLEARED = 1 << 6,
	F_WEAK = 1 << 7,  /* has weak references (in h->weak) */
	F_OWNED = 1 << 8, /* owns bytes outside the heap (in h->owned) */
	F_BIG = 1 << 9,	  /* not from the pool: its block size before it */
	F_VAR = 1 << 10,  /* from rcl_new_var(): its size is its block's */
	F_SITE = 1 << 11, /* its site is recorded (in h->sites) */
	/* the incremental pass (gc.c): counted and marked when equal to
	 * h->epoch's bits, in h->work when GRAY */
	F_COUNTED = 1 << 12,
	F_MARKED = 1 << 13,
	F_GRAY = 1 << 14,
};

/* After marking: in the set, not reached: garbage. */
#define IS_GARBAGE(o)                                                          \
	(((o)->flags & (F_COLLECTING | F_REACHABLE)) == F_COLLECTING)

#define HEAD(obj) ((rcl_head *)(obj)-1)
#define OBJ(head) ((void *)((rcl_head *)(head) + 1))

typedef struct rcl_slot {
	size_t
	    objects; /* only as an accumulator: a vector's count is n - holes */
	size_t bytes;
} rcl_slot;

typedef struct rcl_vec {
	rcl_head **v;
	uint32_t n; /* used, holes included */
	uint32_t cap;
	uint32_t holes;
	uint32_t cursor; /* the oldest generation's: where the incremental
			    pass walks next (gc.c) */
	uint32_t limit;	 /* its length when the pass began */
} rcl_vec;

typedef struct rcl_gen {
	size_t count;
	size_t threshold;
	uint64_t collections;
	uint64_t collected;
	uint64_t uncollectable;
} rcl_gen;

/*
 * The pool: blocks of up to POOL_MAX bytes in size classes of 16, carved
 * from 64 KiB pages aligned to their size (so a block finds its page by
 * masking), the pages from arenas of ARENA_PAGES mapped from the kernel.
 * Only with the default allocator, and never under AddressSanitizer (which
 * then sees every object as its own allocation).
 */
#define POOL_PAGE ((size_t)64 << 10)
#define POOL_MAX 512
#define POOL_GRAIN 8 /* size classes: 8, 16, 24, ... POOL_MAX */
#define POOL_CLASSES (POOL_MAX / POOL_GRAIN)

#define POOL_SPARE 4
#define ARENA_PAGES 64 /* 4 MiB: at most 64, the bits of a mask */
#define ARENA_ALL (~(uint64_t)0 >> (64 - ARENA_PAGES))

typedef struct pool_page pool_page;
typedef struct pool_arena pool_arena;

struct pool_page {
	pool_page *next; /* pages of this class with a free block; spares */
	pool_page *prev;
	void *free; /* freed blocks, linked through their first word */
	char *bump; /* blocks never handed out start here */
	pool_arena *arena;
	uint32_t used;
	uint32_t cls;
	uint32_t cap; /* blocks the page holds: full when used == cap */
};

#define PAGE_HEADER 64
_Static_assert(sizeof(pool_page) <= PAGE_HEADER, "page header too large");

/* An arena: ARENA_PAGES pages mapped together; which are free, and which
 * of those are still resident (given back at the next pool_release()). */
struct pool_arena {
	char *base;
	uint64_t free_mask;
	uint64_t dirty_mask;
	pool_arena *next; /* every arena */
	pool_arena *prev;
};

typedef struct rcl_pool {
	bool enabled;
	pool_page *partial[POOL_CLASSES]; /* pages with a free block */
	pool_page *spare;		  /* empty pages kept for reuse */
	size_t nspare;
	pool_arena *arenas;
	size_t pages;	  /* in use or spare */
	size_t dirty;	  /* free pages not yet given back */
	uint64_t dirty_ns; /* when the first of them was freed (0: none) */
} rcl_pool;

/* Free pages stay resident this long for reuse before they are given back
 * (pool_release_idle()), as the block cache's blocks do. */
#define POOL_IDLE_NS ((uint64_t)1000000000)

/*
 * Large blocks (blocks.c): objects and owned payloads of BLOCK_MIN bytes or
 * more are mapped directly and populated at once; up to BLOCK_SLOTS freed
 * ones (and cache_max bytes) are kept for reuse, given back by trims and
 * after BLOCK_IDLE_NS unused. Only with the default allocator.
 */
#define BLOCK_MIN ((size_t)256 << 10)
#define BLOCK_SLOTS 2
#define BLOCK_IDLE_NS ((uint64_t)1000000000)

typedef struct rcl_blocks {
	bool enabled;
	size_t n; /* cached */
	struct {
		void *p;
		size_t cap;
		uint64_t freed_ns;
	} slot[BLOCK_SLOTS];
	size_t cached_bytes;
	size_t cache_max;
	size_t mapped_bytes; /* live and cached */
	uint64_t maps, reuses, unmaps;
} rcl_blocks;

struct rcl_gauge;

/* An object of the incremental pass's work stack (gc.c), and the next of
 * its references to walk. */
struct pass_entry {
	rcl_head *o; /* NULL: walked, or freed meanwhile */
	size_t pos;
	const void *items; /* where its references were when pos was set */
	bool restarted;	   /* walked from its first again, once: they moved */
};

struct rcl_heap {
	rcl_gen gens[RCL_GENERATIONS];
	rcl_vec vec[NSLOTS];
	rcl_slot slot[NSLOTS];
	rcl_allocator alloc;
	rcl_pool pool;
	rcl_blocks blocks;
	pthread_t owner;

	/* admission (admit.c): the gauge of a watchdog, a budget */
	bool limited;		  /* a gauge or a budget is set */
	bool refused;		  /* the last allocation was refused */
	struct rcl_gauge *gauge;  /* shared with the watchdog, or NULL */
	uint64_t seen_readings;	  /* the gauge's readings when last looked */
	size_t since_read;	  /* memory taken since, not yet in the gauge */
	size_t reserved;	  /* in the gauge, for what is being taken */
	rcl_budget *budget;	  /* or NULL */
	size_t budget_base;	  /* heap bytes when it was set */
	uint64_t allocs_at_full;  /* allocations_total at the last full */
	uint64_t owned_at_full;	  /* owned_ops then */
	uint64_t owned_ops;	  /* owned allocations and additions */
	uint64_t full_ns;	  /* when the last full collection ended */

	/* pacing */
	bool enabled;
	bool collecting;
	bool deleting;
	int dealloc_depth;
	rcl_head *trash;	  /* refcount zero, waiting to be freed */
	rcl_slot gc_freed;	  /* freed by this collection's delete */
	size_t young_bytes;	  /* byte trigger, 0 = off */
	size_t young_bytes_since; /* net bytes allocated since gen 0 */
	size_t full_floor;	  /* bytes surviving the last full collection */
	size_t long_lived_total;  /* objects surviving the last full one */
	size_t long_lived_pending; /* objects promoted to gen 2 since */
	size_t finalizable; /* live objects whose finalizer has not run */

	/* incremental collection of the oldest generation (gc.c) */
	bool incremental;	  /* automatic fulls are done in increments */
	bool pass_incomplete;	  /* memory was short: a full collection ends
				     the pass */
	uint8_t pass_phase;	  /* PASS_* (gc.c) */
	uint32_t epoch;		  /* F_COUNTED|F_MARKED or 0: their value
				     meaning "counted", "marked" this pass */
	size_t increment_objects; /* an increment's work: objects walked and
				     references followed */
	size_t pass_objects;	  /* old objects when this pass began */
	size_t pass_bytes;	  /* and their bytes */
	size_t pass_work;	  /* the pass's work, estimated */
	size_t pass_done;	  /* of which done */
	size_t pass_refs;	  /* references the count followed */
	size_t refs_last;	  /* ... in the last pass that counted them all */
	size_t pass_marked;	  /* objects the mark reached */
	rcl_head *part;		  /* the object the count walks, partly walked */
	size_t part_pos;	  /* its next reference */
	struct pass_entry *work; /* the mark's work stack, then the candidates */
	uint32_t work_n;
	uint32_t work_cap;
	size_t pressure_budget;	  /* admission's pass budget past soft, or 0 */
	double debt;		  /* work the pacing owes */
	size_t pace_total;	  /* the heap's recent highest bytes, where
				     its growth is counted from (gc.c) */
	uint32_t fill;		  /* where fill_holes() looks for a hole next */
	uint32_t taken_base;	  /* generation 1's vector's length before a
				     validation's candidates: UINT32_MAX
				     outside one */
	uint32_t taken_cap;
	size_t restored;	  /* candidates restore() put back, this time */
	uint32_t *taken_from;	  /* where each was in the oldest vector, by
				     its place in generation 1's after base */
	size_t weakrefs;    /* live weak references */

	/* per-type table: open addressing by type pointer */
	rcl_tinfo **types;
	size_t ntypes;
	size_t types_cap;
	rcl_tinfo *last_ti;

	rcl_headmap weak;
	rcl_headmap owned;

	/* allocation sites (sites.c): NULL while not recorded */
	struct rcl_sites *sites;
	const char *label;

	rcl_observer_fn observer;
	void *observer_arg;
	rcl_collect_hook_fn collect_hook;
	void *collect_hook_arg;

	rcl_stats st; /* the counters; slots are added on read */
};

static inline unsigned head_gen(const rcl_head *o)
{
	return o->flags & GEN_MASK;
}

static inline void head_set_gen(rcl_head *o, unsigned gen)
{
	o->flags = (o->flags & ~(uint32_t)GEN_MASK) | gen;
}

/* Bytes of every object on the heap: their blocks (the vectors' slots
 * count them) and what they own outside it. */
static inline size_t heap_total_bytes(const rcl_heap *h)
{
	size_t bytes = h->st.owned_bytes;

	for (int i = 0; i < NSLOTS; i++)
		bytes += h->slot[i].bytes;
	return bytes;
}

#ifndef NDEBUG
void heap_check_owner(const rcl_heap *h);
#define HEAP_CHECK_OWNER(h) heap_check_owner(h)
#else
#define HEAP_CHECK_OWNER(h) ((void)0)

#endif

/* vec.c */
bool vec_reserve(rcl_heap *h, rcl_vec *v, size_t extra);
bool vec_push_slow(rcl_heap *h, rcl_vec *v, rcl_head *o);
void vec_pop_holes(rcl_vec *v);
void vec_compact(rcl_vec *v);
size_t vec_shrink(rcl_heap *h, rcl_vec *v);
void vec_free(rcl_heap *h, rcl_vec *v);

/* pool.c */
void pool_init(rcl_pool *p, const rcl_allocator *a);
void *pool_alloc_slow(rcl_heap *h, unsigned cls);
void pool_free_slow(rcl_heap *h, pool_page *pg, void *b, bool was_full);
void pool_finish(rcl_heap *h);
size_t pool_trim(rcl_heap *h);
size_t pool_release(rcl_pool *p);
size_t pool_release_idle(rcl_pool *p, uint64_t now_ns);
void *heap_raw_alloc(rcl_heap *h, size_t size);
void heap_raw_free(rcl_heap *h, void *p, size_t size);
void *heap_raw_realloc(rcl_heap *h, void *p, size_t old, size_t size);

/* blocks.c */
size_t block_growth(const rcl_heap *h, size_t size);
void *block_alloc(rcl_heap *h, size_t size);
void block_free(rcl_heap *h, void *p, size_t size);
size_t block_trim(rcl_heap *h, uint64_t idle_ns);

/* admit.c: what the heap takes outside the pool, and admission. */
void *heap_take(rcl_heap *h, size_t size);
void heap_give(rcl_heap *h, void *p, size_t size);
enum { ADMIT_POOL, ADMIT_TAKE, ADMIT_OWNED_ADD };
bool heap_admit_slow(rcl_heap *h, int kind, size_t size);
void heap_account(rcl_heap *h, size_t bytes);
void heap_unreserve(rcl_heap *h);

/* May the heap take memory for size more bytes (a pool page for size, or
 * caller-managed memory)? Collects first when that is what it takes; false
 * (and h->refused) when it cannot fit. */
static inline bool heap_admit(rcl_heap *h, int kind, size_t size)
{
	return !h->limited || heap_admit_slow(h, kind, size);
}

static inline size_t class_size(unsigned cls)
{
	return ((size_t)cls + 1) * POOL_GRAIN;
}

/* The class of a block of size bytes (1..POOL_MAX). */
static inline unsigned size_class(size_t size)
{
	return (unsigned)((size - 1) / POOL_GRAIN);
}

/* size rounded up to 16: what a block needs to be aligned for any type
 * (a class that is a multiple of 16 starts its blocks 16-aligned). */
static inline size_t align16(size_t size)
{
	return (size + 15) & ~(size_t)15;
}

/* The bytes of o's block: what its slot and its type count (header and
 * user bytes, the size class's rounding, a big one's prefix). */
static inline size_t head_block(const rcl_head *o)
{
	if (__builtin_expect(o->flags & F_BIG, 0))
		return ((const size_t *)o)[-2];
	return class_size(((const pool_page *)((uintptr_t)o &
					       ~(uintptr_t)(POOL_PAGE - 1)))
			      ->cls);
}

static inline bool page_full(const pool_page *pg)
{
	return pg->used == pg->cap;
}

/* size bytes from the pool, or from the allocator when too large. */
static inline void *pool_alloc(rcl_heap *h, size_t size)
{
	rcl_pool *p = &h->pool;
	pool_page *pg;
	unsigned cls;
	void *b;

	if (!p->enabled || size > POOL_MAX || size == 0)
		return heap_take(h, size ? size : 1);
	cls = size_class(size);
	pg = p->partial[cls];
	if (!pg)
		return pool_alloc_slow(h, cls);
	if (pg->free) {
		b = pg->free;
		pg->free = *(void **)b;
	} else {
		b = pg->bump;
		pg->bump += class_size(cls);
	}
	pg->used++;
	if (page_full(pg)) { /* off the partial list */
		p->partial[cls] = pg->next;
		if (pg->next)
			pg->next->prev = NULL;
		pg->next = NULL;
	}
	return b;
}

/* Give back block b of page pg. */
static inline void pool_put(rcl_heap *h, pool_page *pg, void *b)
{
	bool full = page_full(pg);

	if (!full &&
	    (pg->used > 1 || (h->pool.partial[pg->cls] == pg && !pg->next))) {
		/* the usual case; an emptied page that is its class's only
		 * partial one stays, so alloc-free pairs do not churn pages */
		*(void **)b = pg->free;
		pg->free = b;
		pg->used--;
		return;
	}
	pool_free_slow(h, pg, b, full);
}

/* Give back a block of size bytes from pool_alloc(). */
static inline void pool_free(rcl_heap *h, void *b, size_t size)
{
	if (!b)
		return;
	if (!h->pool.enabled || size > POOL_MAX || size == 0) {
		heap_give(h, b, size ? size : 1);
		return;
	}
	pool_put(h, (pool_page *)((uintptr_t)b & ~(uintptr_t)(POOL_PAGE - 1)),
		 b);
}

/* Give back o's block of block bytes (head_block()). */
static inline void heap_free_block(rcl_heap *h, rcl_head *o, size_t block)
{
	if (__builtin_expect(o->flags & F_BIG, 0))
		heap_give(h, (char *)o - BIG_PREFIX, block);
	else
		pool_free(h, o, block);
}

/* Append o to v; false if memory is short. */
static inline bool vec_push(rcl_heap *h, rcl_vec *v, rcl_head *o)
{
	if (__builtin_expect(v->n == v->cap, 0))
		return vec_push_slow(h, v, o);
	o->idx = v->n;
	v->v[v->n++] = o;
	return true;
}

/* Remove o from v: the last one shrinks v (with the holes before it), any
 * other leaves a hole. */
static inline void vec_remove(rcl_vec *v, rcl_head *o)
{
	if (o->idx + 1 == v->n) {
		v->n--;
		if (v->n && !v->v[v->n - 1])
			vec_pop_holes(v);
	} else {
		v->v[o->idx] = NULL;
		v->holes++;
	}
}

static inline size_t vec_count(const rcl_vec *v)
{
	return (size_t)v->n - v->holes;
}

/*
 * Whether an incremental heap collects its oldest generation in increments
 * now: only while it holds more objects than an increment takes. A smaller
 * one is collected whole, by the stop-the-world rules: that pause is no
 * longer than an increment's, and those rules pace by the bytes it gained
 * (full_by_bytes). The incremental pacing counts growth past the heap's
 * highest level, and on the seed's load (a few old cycles each holding 20
 * MB, the heap rising and falling by a request) old garbage piled up to
 * the earlier peak: 85 MB of RSS against 45 MB, 1,955 req/s against 2,985.
 */
static inline bool heap_incremental_now(const rcl_heap *h)
{
	return h->incremental &&
	       vec_count(&h->vec[RCL_GENERATIONS - 1]) > h->increment_objects;
}

/* headmap.c */
size_t headmap_slot(const rcl_headmap *m, const rcl_head *key);
bool headmap_grow(rcl_heap *h, rcl_headmap *m);
void headmap_put(rcl_headmap *m, rcl_head *key, uintptr_t val);
void headmap_remove_at(rcl_headmap *m, size_t i);
void headmap_free(rcl_heap *h, rcl_headmap *m);

/* heap.c */
void heap_free_object(rcl_heap *h, rcl_head *o);
size_t heap_owned_take(rcl_heap *h, rcl_head *o);
bool heap_relink(rcl_heap *h, rcl_head *o, unsigned gen);

/* sites.c: recording is on while h->sites; each tinfo's cls is then -1,
 * so rcl_new() takes new_object(), which records. */
void sites_record(rcl_heap *h, rcl_head *o, const rcl_site *site,
		  size_t block);
void sites_forget(rcl_heap *h, rcl_head *o);
void sites_free(rcl_heap *h);

/* gc.c */
size_t gc_collect(rcl_heap *h, int generation, int reason);
size_t gc_old_pending(const rcl_heap *h);
void gc_maybe_collect(rcl_heap *h, size_t new_bytes);
void gc_free_member(rcl_heap *h, rcl_head *o);
/* The incremental pass under way ends here, undone (a whole collection,
 * freezing, or the heap's end follows); the next begins afresh. */
void gc_pass_abort(rcl_heap *h);

/* o, GRAY, is about to be freed: out of the pass's work stack with it, and
 * outside the pass, as a survivor is (a finalizer may resurrect it: it is
 * then taken in by the next pass's flip, not left skipped by it). */
static inline void gc_ungray(rcl_heap *h, rcl_head *o)
{
	h->work[o->gc_refs].o = NULL;
	o->flags = (o->flags & ~(uint32_t)(F_GRAY | F_COUNTED | F_MARKED)) |
		   h->epoch;
}

/* Is a collection due before new_bytes more are taken? The cheap test
 * gc_maybe_collect() repeats and acts on. */
static inline bool gc_due(const rcl_heap *h, size_t new_bytes)
{
	return h->enabled &&
	       ((h->gens[0].threshold &&
		 h->gens[0].count > h->gens[0].threshold) ||
		(h->young_bytes &&
		 h->young_bytes_since + new_bytes > h->young_bytes));
}
enum { REASON_MANUAL, REASON_COUNT, REASON_BYTES, REASON_ALLOC, REASON_LIMIT };
bool gc_collect_paced(rcl_heap *h, size_t new_bytes, size_t trigger);

/* refs.c: reference layouts (rcl_ref), and the type's calls either way. */
int refs_compile(rcl_tinfo *ti);
void refs_traverse(const rcl_type *t, void *obj, rcl_visit_fn visit,
		   void *arg);
void refs_clear(const rcl_tinfo *ti, void *obj);
void refs_forget(const rcl_tinfo *ti, void *obj);

/* obj's references, each visited with its name: the type's traverse if it
 * has one (a type with both names its references its own way, as map does
 * with its keys), else the described ones. */
static inline void type_traverse(const rcl_type *t, void *obj,
				 rcl_visit_fn visit, void *arg)
{
	if (t->traverse != NULL)
		t->traverse(obj, visit, arg);
	else if (t->nrefs != 0)
		refs_traverse(t, obj, visit, arg);
}

/* Whether ti's type has a clear, its own or derived from its refs. */
static inline bool type_clears(const rcl_tinfo *ti)
{
	return ti->type->clear != NULL || ti->walk >= WALK_F1;
}

/* Drop obj's references: the type's clear, or the derived one. */
static inline void type_clear(const rcl_tinfo *ti, void *obj)
{
	if (ti->type->clear != NULL)
		ti->type->clear(obj);
	else if (ti->walk >= WALK_F1)
		refs_clear(ti, obj);
}

/* Whether obj, of a type whose walk is fields or one array (WALK_F1 to
 * WALK_VECTOR), holds no reference: its fields all NULL, its array empty.
 * Then its derived clear would drop nothing. */
static inline bool refs_empty(const rcl_tinfo *ti, const void *obj)
{
	const char *base = obj;
	uintptr_t any = 0;

	switch (ti->walk) {
	case WALK_F4:
		any |= *(const uintptr_t *)(base + ti->off[3]);
		/* fall through */
	case WALK_F3:
		any |= *(const uintptr_t *)(base + ti->off[2]);
		/* fall through */
	case WALK_F2:
		any |= *(const uintptr_t *)(base + ti->off[1]);
		/* fall through */
	case WALK_F1:
		any |= *(const uintptr_t *)(base + ti->off[0]);
		return any == 0;
	case WALK_ARRAY:
	case WALK_VECTOR:
		return *(const size_t *)(base + ti->off[1]) == 0;
	default:
		return false;
	}
}

/* weakref.c */
void weakref_clear_all(rcl_head *o, rcl_weakref **callbacks);
void weakref_run_callbacks(rcl_weakref *callbacks);
void weakref_drop_callbacks(rcl_weakref *callbacks);


#pragma GCC visibility pop

#endif
