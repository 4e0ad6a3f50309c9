/*
 * libreclaim: a managed heap for C.
 *
 * Objects are plain C structs with a hidden header before the pointer that
 * rcl_new() returns. Reference counting frees an object as soon as its count
 * reaches zero; a generational cycle collector (CPython's algorithm) frees the
 * cycles that reference counting cannot. The collector paces itself by bytes
 * as well as by object counts, so one small object that owns 20 MiB counts as
 * 20 MiB.
 *
 * Threads: a heap belongs to one thread at a time (the one that created it,
 * or the last to call rcl_heap_adopt()). Objects must not reference objects of
 * another heap. Debug builds assert both.
 */
#ifndef RECLAIM_HEAP_H
#define RECLAIM_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RCL_GENERATIONS 3

typedef struct rcl_heap rcl_heap;

/* Called by traverse for each non-NULL owned reference, with its field name. */
typedef void (*rcl_visit_fn)(void *child, const char *field, void *arg);

/*
 * Reference layouts: where a type keeps its references, described rather
 * than visited. One rcl_ref per field that holds managed references:
 *   RCL_REF_FIELD   a pointer to a managed object (or NULL)
 *   RCL_REF_ARRAY   an array of such pointers inside the object (a
 *                   flexible array member, the object made with
 *                   rcl_new_var()), its length in a size_t field
 *   RCL_REF_VECTOR  a pointer to such an array kept outside the object (the
 *                   type allocates and frees the array), its length in a
 *                   size_t field
 * From the description the collector walks the references itself, with no
 * call into the type per object or per reference, and the library derives
 * traverse (rcl_traverse() reports each reference with its name) and, when
 * the type gives none, clear. Build the table with the macros below:
 *
 *	typedef struct node { struct node *parent; struct kids *kids; } node;
 *	typedef struct kids { size_t n; node *item[]; } kids;
 *	static const rcl_type node_type = {.name = "Node",
 *	    .size = sizeof(node),
 *	    RCL_REFS(RCL_REF(node, parent), RCL_REF(node, kids))};
 *	static const rcl_type kids_type = {.name = "Kids",
 *	    .size = sizeof(kids), RCL_REFS(RCL_REF_ARRAY(kids, item, n))};
 *
 * The collector walks a type's refs when it has them, not its traverse;
 * a type may give both, and rcl_traverse() (and so every report) then calls
 * its traverse, to name the references its own way (the standard map names
 * each value by its key). The two must visit the same references. A type
 * with neither holds no references and is never tracked. A bad description (a misaligned offset,
 * a field past size, an unknown kind) makes rcl_new() fail with EINVAL.
 */
enum rcl_ref_kind { RCL_REF_FIELD, RCL_REF_ARRAY, RCL_REF_VECTOR };

typedef struct rcl_ref {
	const char *name;    /* the field's name in reports */
	uint32_t kind;	     /* enum rcl_ref_kind */
	uint32_t offset;     /* of the pointer, the array, or its pointer */
	uint32_t len_offset; /* arrays: of their size_t length */
} rcl_ref;

#define RCL_REF(T, field)                                                      \
	{ #field, RCL_REF_FIELD, (uint32_t)offsetof(T, field), 0 }
#define RCL_REF_ARRAY(T, field, len)                                           \
	{                                                                      \
		#field, RCL_REF_ARRAY, (uint32_t)offsetof(T, field),           \
		    (uint32_t)offsetof(T, len)                                 \
	}
#define RCL_REF_VECTOR(T, field, len)                                          \
	{                                                                      \
		#field, RCL_REF_VECTOR, (uint32_t)offsetof(T, field),          \
		    (uint32_t)offsetof(T, len)                                 \
	}
/* Designated initializers for rcl_type's refs and nrefs, for a type defined
 * at file scope (the table is a compound literal, static only there). */
#define RCL_REFS(...)                                                          \
	.refs = (const rcl_ref[]){__VA_ARGS__},                                \
	.nrefs = sizeof((const rcl_ref[]){__VA_ARGS__}) / sizeof(rcl_ref)

typedef struct rcl_type {
	const char *name; /* shown in every report */
	size_t size;	  /* bytes of user data for rcl_new */
	/* Visit each non-NULL owned reference, for types whose references
	 * refs cannot describe. A type with neither holds no references to
	 * managed objects and is never tracked by the collector. */
	void (*traverse)(void *self, rcl_visit_fn visit, void *arg);
	/* Drop owned references (decref, set NULL). Must be idempotent: it is
	 * also called when the object is freed. Optional with refs: the
	 * derived one sets each field to NULL, and each length to 0, before
	 * it drops what it held (the arrays' memory stays the type's). */
	void (*clear)(void *self);
	/* Optional; runs at most once per object (PEP 442); may resurrect. */
	void (*finalize)(void *self);
	/* Optional; release what is not a managed object. Runs last. */
	void (*destroy)(void *self);
	/* Where the references are (see rcl_ref), and how many entries. */
	const rcl_ref *refs;
	size_t nrefs;
} rcl_type;

/* Where the heap takes memory from; tests inject failures through it. */
typedef struct rcl_allocator {
	void *(*alloc)(size_t size, void *ctx);
	void (*free)(void *ptr, size_t size, void *ctx);
	void *ctx;
} rcl_allocator;

typedef struct rcl_config {
	/* Count thresholds per generation, as CPython's gc.set_threshold():
	 * generation 0 is collected when tracked allocations minus frees exceed
	 * thresholds[0]; generation N when generation N-1 was collected more
	 * than thresholds[N] times. thresholds[0] == 0 disables count pacing.
	 */
	size_t thresholds[RCL_GENERATIONS];
	/* Byte trigger: generation 0 is also collected when the bytes allocated
	 * since its last collection (objects and owned payloads, less what was
	 * freed) would pass this; a full collection when the heap has grown by
	 * more than max(young_bytes, 25% of what survived the last one).
	 * 0 turns byte pacing off: pacing is then exactly CPython's. */
	size_t young_bytes;
	bool auto_collect;	 /* collect automatically (gc.enable) */
	rcl_allocator allocator; /* all zero: malloc and free */
	/* Large blocks: with the default allocator, objects and owned payloads
	 * of RCL_BLOCK_MIN bytes or more are mapped from the kernel directly
	 * (given back the moment they are freed, never fragmenting malloc's
	 * heap) and populated at once; up to two freed blocks and this many
	 * bytes are kept for reuse (0: none). */
	size_t block_cache_bytes;
} rcl_config;

#define RCL_DEFAULT_YOUNG_BYTES ((size_t)8 << 20)
#define RCL_BLOCK_MIN ((size_t)256 << 10)
#define RCL_DEFAULT_BLOCK_CACHE_BYTES ((size_t)64 << 20)

/* Fill cfg with the defaults: 700,10,10, 8 MiB, automatic, malloc, a
 * 64 MiB block cache. */
void rcl_config_init(rcl_config *cfg);

/* Create a heap; NULL cfg means the defaults. NULL if memory is short. */
rcl_heap *rcl_heap_new(const rcl_config *cfg);
/* Collect, then free every object still alive (clear, destroy, free).
 * Pointers to its objects are invalid afterwards. NULL is a no-op. */
void rcl_heap_destroy(rcl_heap *h);
/* Make the calling thread the owner of h (hand a heap to a worker). */
void rcl_heap_adopt(rcl_heap *h);

/* A zeroed object of t->size bytes, refcount 1, tracked if t has refs or
 * traverse. May collect first. NULL (errno ENOMEM) after a full collection
 * and one retry failed, or EINVAL for a NULL heap or type or a bad refs
 * description (or, from rcl_new_var(), a size too small for the fields it
 * describes). */
void *rcl_new(rcl_heap *h, const rcl_type *t);
/* The same with size bytes of user data instead of t->size. */
void *rcl_new_var(rcl_heap *h, const rcl_type *t, size_t size);

/*
 * Allocation sites: where in the C code an object was made. rcl_new() and
 * rcl_new_var() are also macros that pass the caller's file, line and
 * function (RCL_SITE: a static record per call, its address passed in a
 * register, so a call costs one instruction more and nothing is written
 * unless the heap records sites). The functions stay exported under their
 * names (call them as (rcl_new)(h, t), or define RCL_NO_SITES before the
 * first include) and record no site. A plugin's calls name its own files.
 */
typedef struct rcl_site {
	const char *file;
	const char *func;
	unsigned line;
} rcl_site;

void *rcl_new_at(rcl_heap *h, const rcl_type *t, const rcl_site *site);
void *rcl_new_var_at(rcl_heap *h, const rcl_type *t, size_t size,
		     const rcl_site *site);

#define RCL_SITE                                                               \
	(__extension__({                                                       \
		static const rcl_site rcl_site_ = {__FILE__, __func__,         \
						   __LINE__};                  \
		&rcl_site_;                                                    \
	}))
#ifndef RCL_NO_SITES
/* The arguments pass through whole: a compound literal's commas too. */
#define rcl_new(...) rcl_new_at(__VA_ARGS__, RCL_SITE)
#define rcl_new_var(...) rcl_new_var_at(__VA_ARGS__, RCL_SITE)
#endif

/*
 * Recording: while on, each object the heap makes is recorded with its site
 * and the heap's label (the piece of work it was made for; a host sets it
 * around each piece, reclaimd to the request's route or the task's name),
 * and counted, live, per (site, label, type). Off (the default), nothing is
 * recorded and allocation takes its usual path, unchanged. The record is
 * bounded: at most max_objects live objects and RCL_SITES_MAX (site, label,
 * type) entries; past either, objects go unrecorded (counted). Turning it
 * off (max_objects 0) forgets every record and frees their memory. 0, or -1
 * with ENOMEM (recording stays as it was).
 */
#define RCL_SITES_MAX 4096
int rcl_heap_record_sites(rcl_heap *h, size_t max_objects);
/* Label the objects made from now on (a string that outlives the heap's
 * records, or NULL: none); the label it replaces. */
const char *rcl_heap_set_label(rcl_heap *h, const char *label);
/* obj's site and label, if it was recorded (either may be NULL: made
 * through the plain function, or with no label); false otherwise. */
bool rcl_object_site(const void *obj, const rcl_site **site,
		     const char **label);

typedef struct rcl_sites_info {
	bool on;
	size_t max_objects;	   /* the bound on recorded objects */
	size_t objects;		   /* recorded, alive */
	size_t sites;		   /* (site, label, type) entries */
	size_t bytes;		   /* the record's memory */
	uint64_t unrecorded_total; /* objects made past a bound */
} rcl_sites_info;
void rcl_heap_sites_info(const rcl_heap *h, rcl_sites_info *out);

/* Live recorded objects per (site, label, type), as rcl_heap_census() per
 * type. Fills up to max entries and returns how many there are. */
typedef struct rcl_site_census {
	const rcl_site *site; /* NULL: made through the plain function */
	const char *label;
	const rcl_type *type;
	size_t objects;
	size_t bytes; /* their blocks: header and user bytes */
} rcl_site_census;
size_t rcl_heap_site_census(const rcl_heap *h, rcl_site_census *out,
			    size_t max);

/*
 * Reference counting, static inline as CPython's Py_INCREF and Py_DECREF
 * are: the count is the first word of the header, RCL_HEAD_BYTES before the
 * object (both are part of the ABI). The library also exports both as
 * functions, for callers that cannot use an inline (other languages, and
 * code that defines RCL_NO_INLINE_REFCOUNT before the first include).
 * rcl_dealloc() is what rcl_decref() calls when the count reaches zero (or
 * below: a decref too many, which debug builds assert); nothing else may.
 */
#define RCL_HEAD_BYTES 32

void rcl_dealloc(void *obj);

#ifdef RCL_NO_INLINE_REFCOUNT
void rcl_incref(void *obj); /* NULL is a no-op */
void rcl_decref(void *obj); /* NULL is a no-op; frees at zero */
#else
static inline void rcl_incref(void *obj) /* NULL is a no-op */
{
	if (obj)
		(*(intptr_t *)((char *)obj - RCL_HEAD_BYTES))++;
}

static inline void rcl_decref(void *obj) /* NULL is a no-op; frees at zero */
{
	if (obj && --*(intptr_t *)((char *)obj - RCL_HEAD_BYTES) <= 0)
		rcl_dealloc(obj);
}
#endif

size_t rcl_refcount(const void *obj);
rcl_heap *rcl_heap_of(const void *obj);
const rcl_type *rcl_typeof(const void *obj);
size_t rcl_sizeof(const void *obj);	  /* user bytes */
size_t rcl_object_bytes(const void *obj); /* header + user + owned bytes */
bool rcl_is_tracked(const void *obj);
/* Call obj's traverse (if any) with visit: the object's outgoing edges,
 * described (refs) or visited by the type. */
void rcl_traverse(void *obj, rcl_visit_fn visit, void *arg);
/* Drop obj's references now, as the collector does to break a cycle: the
 * type's clear, or the one derived from its refs. NULL is a no-op. */
void rcl_clear(void *obj);

/*
 * Owned memory: payloads an object keeps outside the heap are counted against
 * it, so pacing sees them, and released from the count when it is freed.
 * rcl_owned_alloc() paces first (an allocation that would pass the byte
 * trigger collects before the memory is taken), then allocates through the
 * heap's allocator; free it with rcl_owned_free() (usually in destroy).
 * rcl_owned_add()/rcl_owned_sub() account memory the caller manages itself.
 */
void *rcl_owned_alloc(void *obj, size_t size);
void rcl_owned_free(void *obj, void *ptr, size_t size);
int rcl_owned_add(void *obj, size_t bytes); /* 0, or -1 with ENOMEM */
void rcl_owned_sub(void *obj, size_t bytes);
size_t rcl_owned_bytes(const void *obj);

/* Collection. */
/* Collect generations 0..generation (0..2); the number of unreachable objects
 * found (resurrected ones included). 0 with EINVAL for a bad generation, or
 * with EBUSY when called from inside a collection. */
size_t rcl_collect(rcl_heap *h, int generation);
void rcl_auto_collect(rcl_heap *h, bool on);
bool rcl_auto_collect_enabled(const rcl_heap *h);
void rcl_set_thresholds(rcl_heap *h, const size_t thresholds[RCL_GENERATIONS]);
void rcl_set_young_bytes(rcl_heap *h, size_t bytes);
size_t rcl_young_bytes(const rcl_heap *h);

/*
 * Incremental collection of the oldest generation (off by default). When
 * on, the automatic collections never walk the whole heap at once: a pass
 * over the oldest generation runs CPython's trial deletion (count, mark,
 * then sweep for what the mark missed) a slice at a time, increment_objects
 * units an increment (an object walked or a reference followed; up to twice
 * that when the pacing is behind), after each increment's collection of the
 * young; a container's described references (rcl_ref arrays and vectors:
 * list, tuple, closure, map) are walked a slice at a time too, a type's
 * traverse whole. The pass ends with one collection of the young and of
 * what it found unreachable, which frees what is garbage among it: its
 * pause is the garbage's, not the heap's. Every object that is garbage
 * when a pass begins is freed by its end. The pacing makes a pass complete
 * within max(young_bytes, a quarter of the heap) / 2 bytes of heap growth
 * (less past the watchdog's soft level), so its garbage is found within
 * twice that: the figure a stop-the-world full collection is paced by.
 * rcl_collect(h, 2) and admission's collections past the hard level stay
 * whole. rcl_collect_increment() runs one increment now (also when off);
 * the objects found unreachable, or 0 with EBUSY inside a collection.
 */
void rcl_set_incremental(rcl_heap *h, bool on);
bool rcl_incremental(const rcl_heap *h);
void rcl_set_increment_objects(rcl_heap *h, size_t objects); /* >= 1 */
size_t rcl_increment_objects(const rcl_heap *h);
size_t rcl_collect_increment(rcl_heap *h);
#define RCL_DEFAULT_INCREMENT_OBJECTS ((size_t)10000)

/* Give back memory the heap keeps for reuse (empty pool pages, unused
 * vector capacity, cached large blocks); the bytes returned. The watchdog's
 * trim calls it before malloc_trim(). */
size_t rcl_heap_trim(rcl_heap *h);
/* Give back the cached large blocks, and the free pages of small objects,
 * unused for a second; the bytes returned. A collection and the freeing of
 * many objects give back free pages that old themselves; a host with an
 * event loop calls this from a timer too (reclaimd: every 100 ms on each
 * worker), so that an idle heap keeps nothing for long. */
size_t rcl_heap_release_idle(rcl_heap *h);

/*
 * Budgets: while a budget is set on a heap, the heap's net growth in bytes
 * (objects and owned payloads taken, less those freed, as rcl_stats.bytes
 * counts them) is counted against it, and memory that would take it past
 * limit is refused: rcl_new(), rcl_owned_alloc() and rcl_owned_add() fail
 * with ENOMEM once a collection has not made room. A host sets one around
 * each step of a piece of work to cap what that work may hold (reclaimd:
 * each step of an on-demand task, tasks.max_bytes). The limit is checked
 * where the heap takes memory (a new pool page, a large or malloc'd block),
 * so small objects may pass it by less than a pool page (64 KiB). used is
 * brought up to date when the budget is unset or replaced; it can go below
 * zero when a collection meanwhile frees what others left.
 */
typedef struct rcl_budget {
	size_t limit;	  /* bytes; 0: count only */
	ptrdiff_t used;	  /* net bytes so far */
	uint64_t refused; /* allocations refused for it */
} rcl_budget;

/* Allocations refused so far (rcl_stats.refused_total, for the limit or a
 * budget): cheap to read before and after a piece of work, to tell a
 * failure for memory from others. */
uint64_t rcl_heap_refusals(const rcl_heap *h);
/* Count h's growth against b from now (NULL: stop); the budget it replaces. */
rcl_budget *rcl_heap_set_budget(rcl_heap *h, rcl_budget *b);
/* b's net bytes now, while it is set on h (b->used otherwise). */
ptrdiff_t rcl_budget_used(const rcl_heap *h, const rcl_budget *b);

/* Freeze: move every tracked object to a permanent generation that
 * collections skip (long-lived start-up state); unfreeze moves them back
 * into the oldest generation. */
void rcl_freeze(rcl_heap *h);
void rcl_unfreeze(rcl_heap *h);
size_t rcl_freeze_count(const rcl_heap *h);

/*
 * Weak references: managed objects (type "weakref", untracked) that do not
 * keep their referent alive. Once the referent is freed, rcl_weakref_get()
 * returns NULL and the callback, if any, runs. In a collection, weak
 * references into the unreachable set are all cleared before any callback or
 * finalizer runs, so none sees a half-dead object.
 */
typedef struct rcl_weakref rcl_weakref;
typedef void (*rcl_weak_cb)(rcl_weakref *ref, void *arg);
rcl_weakref *rcl_weakref_new(void *referent, rcl_weak_cb cb, void *arg);
void *rcl_weakref_get(rcl_weakref *ref); /* new reference, or NULL */
bool rcl_weakref_alive(const rcl_weakref *ref);

/*
 * Observer: told about each collection's unreachable set before anything in
 * it is finalized or cleared, so every object is intact with its edges. With
 * no observer set this costs one branch per collection.
 */
typedef struct rcl_garbage rcl_garbage;
typedef void (*rcl_observer_fn)(rcl_heap *h, int generation,
				const rcl_garbage *g, void *arg);
void rcl_set_observer(rcl_heap *h, rcl_observer_fn fn, void *arg);
size_t rcl_garbage_count(const rcl_garbage *g);
void rcl_garbage_foreach(const rcl_garbage *g, void (*fn)(void *obj, void *arg),
			 void *arg);
bool rcl_garbage_contains(const rcl_garbage *g, const void *obj);

/*
 * Collection hook: called at the end of every collection, automatic or not,
 * with the generation collected and the number of unreachable objects found.
 * The heap is consistent again: the hook may read stats or take a census
 * (the watchdog's survivor floor after full collections), and may allocate,
 * but cannot start a collection (rcl_collect() answers EBUSY). With no hook
 * set this costs one branch per collection.
 */
typedef void (*rcl_collect_hook_fn)(rcl_heap *h, int generation, size_t found,
				    void *arg);
void rcl_set_collect_hook(rcl_heap *h, rcl_collect_hook_fn fn, void *arg);

/* Statistics. */
#define RCL_PAUSE_BUCKETS 17
/* Upper bounds of the pause histogram's buckets in nanoseconds; the last is
 * UINT64_MAX (+Inf). */
extern const uint64_t rcl_pause_bounds_ns[RCL_PAUSE_BUCKETS];

typedef struct rcl_gen_stats {
	size_t objects; /* objects in this generation now */
	size_t bytes;	/* their bytes (headers and owned included) */
	size_t count;	/* the pacing count, as CPython's gen.count */
	size_t threshold;
	uint64_t collections;	/* collections of this generation */
	uint64_t collected;	/* unreachable objects found by them */
	uint64_t uncollectable; /* found unreachable, still alive after clear */
} rcl_gen_stats;

typedef struct rcl_stats {
	size_t objects;	    /* live objects, tracked or not */
	size_t bytes;	    /* their bytes, headers and owned included */
	size_t owned_bytes; /* of which owned payloads */
	size_t untracked_objects;
	size_t frozen_objects;	  /* in the permanent generation */
	size_t young_bytes;	  /* byte trigger in force (0: off) */
	size_t young_bytes_since; /* net bytes allocated since gen 0 was
				     collected */
	size_t
	    full_bytes_floor; /* bytes that survived the last full collection
				 (or were left by the last incremental pass) */
	bool auto_collect;
	rcl_gen_stats gen[RCL_GENERATIONS];
	uint64_t allocations_total;
	uint64_t frees_total;
	uint64_t alloc_failures_total; /* refusals included */
	/* admission (rcl_watchdog_attach(), budgets) */
	uint64_t refused_total;	      /* allocations refused for memory */
	uint64_t refused_bytes_total; /* the bytes they asked for */
	uint64_t refused_budget_total; /* of refused_total: over a budget */
	uint64_t collections_by_limit_total; /* run by admission */
	/* large blocks */
	size_t block_bytes;  /* mapped: live and cached */
	size_t cached_bytes; /* of which kept for reuse */
	uint64_t block_maps_total;
	uint64_t block_reuses_total;
	uint64_t collections_total;
	uint64_t collections_by_count_total;
	uint64_t collections_by_bytes_total;
	uint64_t collected_total;   /* unreachable objects found */
	uint64_t freed_by_gc_total; /* of which freed */
	uint64_t resurrected_total; /* of which resurrected by a finalizer */
	uint64_t finalized_total;
	uint64_t pause_last_ns;
	uint64_t pause_max_ns;
	uint64_t pause_total_ns;
	uint64_t pause_hist[RCL_PAUSE_BUCKETS];
	/* incremental collection of the oldest generation (increments are
	 * counted in the figures above too, as generation 1 collections) */
	bool incremental;
	size_t increment_objects;
	uint64_t increments_total;
	uint64_t increments_oversized_total; /* walked more than twice
						 their units (a type's own
						 traverse of many), or
						 validated more candidates */
	uint64_t increment_pause_max_ns;
	uint64_t increment_pause_total_ns;
	uint64_t increment_pause_hist[RCL_PAUSE_BUCKETS];
	uint64_t old_passes_total; /* passes begun over the oldest generation
				      (each full collection is one) */
	size_t old_pending_objects; /* objects the pass under way has yet
				       to walk, over its count, mark and
				       sweep (an estimate) */
	/* small objects' pages: free ones still resident, kept for reuse
	 * (given back after a second unused, and by rcl_heap_trim) */
	size_t pool_free_bytes;
} rcl_stats;

void rcl_heap_stats(const rcl_heap *h, rcl_stats *out);

typedef struct rcl_type_stats {
	const rcl_type *type;
	const char *name;
	size_t objects;
	size_t bytes;
} rcl_type_stats;

/* Live objects and bytes per type, in O(number of types). Fills up to max
 * entries and returns how many types there are. */
size_t rcl_heap_census(const rcl_heap *h, rcl_type_stats *out, size_t max);

/* Check every list and counter against the documented invariants; false
 * (and a message on stderr) on the first violation. For tests. */
bool rcl_heap_validate(const rcl_heap *h);

#ifdef __cplusplus
}
#endif

#endif
