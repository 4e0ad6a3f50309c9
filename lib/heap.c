/*
 * The heap: object allocation, reference counting, deallocation, owned
 * memory and accounting. The collector is in gc.c; internal.h documents the
 * lists every object lives on.
 */
/* This file defines the exported rcl_incref() and rcl_decref(): it sees
 * their prototypes, not the header's inline definitions. */
#define RCL_NO_INLINE_REFCOUNT

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gauge.h"
#include "internal.h"

/* From this size on, the default allocator maps memory from the kernel
 * itself: what the heap allocates that large is a vector or a table that
 * grows, and malloc, copying it to grow it, left the old copy resident in
 * its heap (2 MB of the Node.tree benchmark's peak). Mapped, it grows by
 * mremap(), moved by the kernel, never held twice. */
#define RAW_MAP_MIN ((size_t)128 << 10)

/*
 * A mapping reserves address space beyond what it is asked for, so that it
 * grows in place: at least RAW_RESERVE_MIN, and four times what it is made
 * with. Growing within the reservation is no system call at all; only past
 * it is the mapping moved (mremap). Moving is what took the time: a
 * generation's vector of millions of objects grows inside a collection, and
 * the kernel moved one page table entry per page (4.7 ms for 18 MiB on this
 * project's paravirtualized test machine), each page then faulting again
 * as the next collections touched it. The reservation is MAP_NORESERVE and
 * untouched: address space, not memory. Its length is kept in a header
 * page before what the caller gets, read back when it grows or is freed.
 */
#define RAW_RESERVE_MIN ((size_t)64 << 20)

struct raw_header {
	size_t reserved; /* the whole mapping, header page included */
};

/* size rounded up to whole pages. */
static size_t raw_pages(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (size + page - 1) & ~(page - 1);
}

/* The mapping's header page, before p. */
static struct raw_header *raw_header(void *p)
{
	return (struct raw_header *)((char *)p - raw_pages(1));
}

/* A new mapping for size bytes and room to grow; NULL if none. */
static void *raw_map(size_t size)
{
	size_t len = raw_pages(size) * 4, page = raw_pages(1);
	struct raw_header *hd;

	if (len < RAW_RESERVE_MIN)
		len = RAW_RESERVE_MIN;
	hd = mmap(NULL, page + len, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (hd == MAP_FAILED)
		return NULL;
	hd->reserved = page + len;
	return (char *)hd + page;
}

static void *default_alloc(size_t size, void *ctx)
{
	void *p;

	(void)ctx;
	if (size < RAW_MAP_MIN)
		return malloc(size);
	p = raw_map(size);
	if (p != NULL)
		lsan_mapped(p, raw_pages(size));
	return p;
}

static void default_free(void *ptr, size_t size, void *ctx)
{
	(void)ctx;
	if (size < RAW_MAP_MIN) {
		free(ptr);
	} else {
		lsan_unmapping(ptr, raw_pages(size));
		munmap(raw_header(ptr), raw_header(ptr)->reserved);
	}
}

/* Resize the mapping p from old to size bytes, contents kept: in place
 * within its reservation (a shrink gives the pages past it back), else
 * moved into a new, larger one. NULL if the kernel has no room. */
static void *raw_resize(void *p, size_t old, size_t size)
{
	struct raw_header *hd = raw_header(p), *nh;
	size_t page = raw_pages(1), from = raw_pages(old), to = raw_pages(size);
	size_t reserved, old_reserved;
	char *q;

	if (page + to <= hd->reserved) {
		if (to < from)
			madvise((char *)p + to, from - to, MADV_DONTNEED);
		return p;
	}
	q = raw_map(size);
	if (q == NULL)
		return NULL;
	nh = raw_header(q);
	reserved = nh->reserved;
	old_reserved = hd->reserved;
	/* the old pages, header included, move over the new mapping's start;
	 * the rest of the old reservation is let go */
	if (mremap(hd, page + from, page + from, MREMAP_MAYMOVE | MREMAP_FIXED,
		   nh) == MAP_FAILED) {
		munmap(nh, reserved);
		return NULL;
	}
	nh->reserved = reserved;
	munmap((char *)hd + page + from, old_reserved - page - from);
	return q;
}

/* Fill cfg with the defaults. */
void rcl_config_init(rcl_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->thresholds[0] = 700;
	cfg->thresholds[1] = 10;
	cfg->thresholds[2] = 10;
	cfg->young_bytes = RCL_DEFAULT_YOUNG_BYTES;
	cfg->auto_collect = true;
	cfg->block_cache_bytes = RCL_DEFAULT_BLOCK_CACHE_BYTES;
}

/* Take size bytes from the heap's allocator, counted for admission. */
void *heap_raw_alloc(rcl_heap *h, size_t size)
{
	void *p = h->alloc.alloc(size, h->alloc.ctx);

	if (p != NULL)
		heap_account(h, size);
	else
		heap_unreserve(h);
	return p;
}

/* Grow (or shrink) p from old to size bytes, keeping its contents; NULL
 * (p untouched) if memory is short. A large block of the default allocator
 * is remapped (RAW_MAP_MIN). */
void *heap_raw_realloc(rcl_heap *h, void *p, size_t old, size_t size)
{
	void *q;

	if (h->alloc.alloc == default_alloc && p != NULL && old >= RAW_MAP_MIN &&
	    size >= RAW_MAP_MIN) {
		q = raw_resize(p, old, size);
		if (q == NULL)
			return NULL;
		lsan_unmapping(p, raw_pages(old));
		lsan_mapped(q, raw_pages(size));
		if (size > old)
			heap_account(h, size - old);
		return q;
	}
	q = heap_raw_alloc(h, size);
	if (q != NULL && p != NULL) {
		memcpy(q, p, old < size ? old : size);
		heap_raw_free(h, p, old);
	}
	return q;
}

/* Give memory back to the heap's allocator. */
void heap_raw_free(rcl_heap *h, void *p, size_t size)
{
	if (p)
		h->alloc.free(p, size, h->alloc.ctx);
}

#ifndef NDEBUG
/* Debug builds: a heap is only ever used by the thread that owns it. */
void heap_check_owner(const rcl_heap *h)
{
	assert(pthread_equal(h->owner, pthread_self()) &&
	       "rcl_heap used from a thread that does not own it");
}
#endif

/* Create a heap; NULL cfg means the defaults. */
rcl_heap *rcl_heap_new(const rcl_config *cfg)
{
	rcl_config def;
	rcl_allocator alloc;
	rcl_heap *h;

	if (!cfg) {
		rcl_config_init(&def);
		cfg = &def;
	}
	alloc = cfg->allocator;
	if (!alloc.alloc || !alloc.free) {
		alloc.alloc = default_alloc;
		alloc.free = default_free;
		alloc.ctx = NULL;
	}
	h = alloc.alloc(sizeof(*h), alloc.ctx);
	if (!h) {
		errno = ENOMEM;
		return NULL;
	}
	memset(h, 0, sizeof(*h));
	h->alloc = alloc;
	pool_init(&h->pool, &cfg->allocator);
	h->blocks.enabled = !cfg->allocator.alloc;
	h->blocks.cache_max = cfg->block_cache_bytes;
	h->owner = pthread_self();
	for (int i = 0; i < RCL_GENERATIONS; i++)
		h->gens[i].threshold = cfg->thresholds[i];
	h->enabled = cfg->auto_collect;
	h->young_bytes = cfg->young_bytes;
	h->increment_objects = RCL_DEFAULT_INCREMENT_OBJECTS;
	h->taken_base = UINT32_MAX;
	return h;
}

/* Make the calling thread the owner of h. */
void rcl_heap_adopt(rcl_heap *h)
{
	if (h)
		h->owner = pthread_self();
}

/* The per-type entry of t, created on first use; NULL with errno if memory
 * is short (ENOMEM) or t's refs are not well formed (EINVAL). */
static rcl_tinfo *tinfo_get(rcl_heap *h, const rcl_type *t)
{
	size_t mask, i;
	rcl_tinfo *ti;

	if (h->last_ti && h->last_ti->type == t)
		return h->last_ti;
	if (h->types_cap) {
		mask = h->types_cap - 1;
		for (i = ((uintptr_t)t >> 4) & mask; h->types[i];
		     i = (i + 1) & mask) {
			if (h->types[i]->type == t)
				return h->last_ti = h->types[i];
		}
	}
	if ((h->ntypes + 1) * 2 > h->types_cap) {
		size_t ncap = h->types_cap ? h->types_cap * 2 : 16;
		rcl_tinfo **nt = heap_raw_alloc(h, ncap * sizeof(*nt));

		if (!nt) {
			errno = ENOMEM;
			return NULL;
		}
		memset(nt, 0, ncap * sizeof(*nt));
		for (size_t j = 0; j < h->types_cap; j++) {
			if (!h->types[j])
				continue;
			i = ((uintptr_t)h->types[j]->type >> 4) & (ncap - 1);
			while (nt[i])
				i = (i + 1) & (ncap - 1);
			nt[i] = h->types[j];
		}
		heap_raw_free(h, h->types, h->types_cap * sizeof(*nt));
		h->types = nt;
		h->types_cap = ncap;
	}
	ti = heap_raw_alloc(h, sizeof(*ti));
	if (!ti) {
		errno = ENOMEM;
		return NULL;
	}
	memset(ti, 0, sizeof(*ti));
	ti->type = t;
	ti->heap = h;
	if (refs_compile(ti) != 0) {
		heap_raw_free(h, ti, sizeof(*ti));
		return NULL; /* errno EINVAL */
	}
	ti->tracked = ti->walk != WALK_NONE;
	ti->traverse = t->traverse;
	/* a type whose size is not a multiple of 16 cannot need 16-byte
	 * alignment: its objects may take the size classes in between */
	ti->align8 = t->size % 16 != 0;
	ti->total = sizeof(rcl_head) + (ti->align8 ? t->size : align16(t->size));
	ti->opaque = t->clear != NULL || ti->walk == WALK_TRAVERSE;
	ti->gen = ti->tracked ? 0 : GEN_UNTRACKED;
	ti->pool_cls = h->pool.enabled && ti->total <= POOL_MAX
			   ? (int16_t)size_class(ti->total)
			   : -1;
	ti->cls = h->sites ? -1 : ti->pool_cls; /* sites.c */
	ti->inert = !t->finalize && !t->destroy && !type_clears(ti);
	ti->described = !t->finalize && !t->destroy && !t->clear &&
			ti->walk >= WALK_F1 && ti->walk <= WALK_VECTOR;
	mask = h->types_cap - 1;
	for (i = ((uintptr_t)t >> 4) & mask; h->types[i]; i = (i + 1) & mask)
		;
	h->types[i] = ti;
	h->ntypes++;
	return h->last_ti = ti;
}


/* A block for an object of total bytes (header and user bytes), its
 * size in *block: from the pool, or too large for it (F_BIG in *big) from
 * outside it with the block's size in a prefix. */
static inline rcl_head *object_block(rcl_heap *h, size_t total,
				     size_t *block, uint32_t *big)
{
	size_t *p;

	if (__builtin_expect(h->pool.enabled && total <= POOL_MAX, 1)) {
		*block = class_size(size_class(total));
		*big = 0;
		return pool_alloc(h, total);
	}
	*block = total + BIG_PREFIX;
	*big = F_BIG;
	p = heap_take(h, *block);
	if (p == NULL)
		return NULL;
	p[0] = *block;
	return (rcl_head *)((char *)p + BIG_PREFIX);
}

/* Memory for an object of total bytes: a block, or a collection and a
 * retry (none when admission refused it: it collected already). */
static inline rcl_head *object_memory(rcl_heap *h, size_t total,
				      size_t *block, uint32_t *big)
{
	rcl_head *o = object_block(h, total, block, big);

	if (__builtin_expect(!o, 0) && !h->refused && !h->collecting &&
	    !h->dealloc_depth) {
		gc_collect(h, RCL_GENERATIONS - 1, REASON_ALLOC);
		o = object_block(h, total, block, big);
	}
	return o;
}

/* Zero the user bytes of a new object. A pooled block is a multiple of 8
 * bytes, so small objects are zeroed in words, without a call: stores
 * written out, since GCC turns a loop of them into rep stos, which costs
 * more to start than the whole allocation (measured: 12 to 25 ns). */
static inline void zero_user(rcl_heap *h, rcl_head *o, size_t size)
{
	if (h->pool.enabled && size <= 64) {
		uint64_t *p = OBJ(o);

		switch ((size + 7) / 8) {
		case 8:
			p[7] = 0;
			/* fall through */
		case 7:
			p[6] = 0;
			/* fall through */
		case 6:
			p[5] = 0;
			/* fall through */
		case 5:
			p[4] = 0;
			/* fall through */
		case 4:
			p[3] = 0;
			/* fall through */
		case 3:
			p[2] = 0;
			/* fall through */
		case 2:
			p[1] = 0;
			/* fall through */
		case 1:
			p[0] = 0;
		}
	} else {
		memset(OBJ(o), 0, size);
	}
}

/* A new object o of ti (of type t), of block bytes in gen's vector: its
 * header's counts and the heap's (but gen 0's pacing count, which the
 * caller keeps, ahead of its test of whether a collection is due). */
static inline void new_counts(rcl_heap *h, rcl_head *o, rcl_tinfo *ti,
			      const rcl_type *t, unsigned gen, size_t block)
{
	o->refcnt = 1;
	o->gc_refs = 0;
	o->ti = ti;
	h->slot[gen].bytes += block;
	ti->objects++;
	ti->bytes += block;
	h->young_bytes_since += block;
	h->st.allocations_total++;
	if (__builtin_expect(t->finalize != NULL, 0))
		h->finalizable++;
}

/* Allocate and register a new object; see rcl_new(). var: rcl_new_var(),
 * whose size may be too small for the fields t describes. site: the
 * caller's, recorded while the heap records sites (sites.c). */
static inline void *new_object(rcl_heap *h, const rcl_type *t, size_t size,
			       bool var, const rcl_site *site)
{
	rcl_tinfo *ti;
	rcl_head *o;
	size_t total, block;
	uint32_t big;
	unsigned gen;

	if (!h || !t) {
		errno = EINVAL;
		return NULL;
	}
	HEAP_CHECK_OWNER(h);
	if (size > SIZE_MAX / 2) {
		errno = ENOMEM;
		return NULL;
	}
	ti = h->last_ti;
	if (__builtin_expect(!ti || ti->type != t, 0) &&
	    !(ti = tinfo_get(h, t))) {
		h->st.alloc_failures_total++;
		return NULL; /* errno ENOMEM or EINVAL */
	}
	if (!var) {
		total = ti->total;
	} else if (size < ti->extent) {
		errno = EINVAL;
		return NULL;
	} else {
		total = sizeof(rcl_head) + (ti->align8 ? size : align16(size));
	}
	gen = ti->tracked ? 0 : GEN_UNTRACKED;
	if (gen == 0)
		h->gens[0].count++;
	if (gc_due(h, total))
		gc_maybe_collect(h, total);
	o = object_memory(h, total, &block, &big);
	if (!o)
		goto undo;
	o->flags = gen | big | (var ? (uint32_t)F_VAR : 0);
	if (!vec_push(h, &h->vec[gen], o)) {
		heap_free_block(h, o, block);
		goto undo;
	}
	zero_user(h, o, size);
	new_counts(h, o, ti, t, gen, block);
	if (__builtin_expect(h->sites != NULL, 0))
		sites_record(h, o, site, block);
	return OBJ(o);
undo:
	if (gen == 0 && h->gens[0].count > 0)
		h->gens[0].count--;
	h->st.alloc_failures_total++;
	errno = ENOMEM;
	return NULL;
}

/* ti for t without a call, for the types met most: the one met last,
 * else the one in t's first place in the type table; NULL otherwise. */
static inline rcl_tinfo *tinfo_find(rcl_heap *h, const rcl_type *t)
{
	rcl_tinfo *ti = h->last_ti;

	if (__builtin_expect(ti != NULL && ti->type == t, 1))
		return ti;
	if (h->types_cap == 0)
		return NULL;
	ti = h->types[((uintptr_t)t >> 4) & (h->types_cap - 1)];
	if (ti == NULL || ti->type != t)
		return NULL;
	return h->last_ti = ti;
}

/* Would a new object of bytes (tracked or not) make a collection due? */
static inline bool gc_due_new(const rcl_heap *h, bool tracked, size_t bytes)
{
	return h->enabled &&
	       ((h->gens[0].threshold &&
		 h->gens[0].count + tracked > h->gens[0].threshold) ||
		(h->young_bytes &&
		 h->young_bytes_since + bytes > h->young_bytes));
}

/* rcl_new()'s other cases, out of line: the usual one saves no register. */
static __attribute__((noinline)) void *new_slow(rcl_heap *h,
						const rcl_type *t,
						const rcl_site *site)
{
	return new_object(h, t, t ? t->size : 0, false, site);
}

/*
 * A zeroed object of t->size bytes, refcount 1. The usual case takes no
 * call, and so saves no register: a type met before, a page of its class
 * with a free block, room in its vector, no collection due. Anything else
 * is new_object()'s; so is every allocation while the heap records sites
 * (their types' cls is then -1: no test is added here for them). Past the
 * cls test the site is not needed (not recording): it takes no register.
 */
static inline __attribute__((always_inline)) void *
new_fast(rcl_heap *h, const rcl_type *t, const rcl_site *site)
{
	rcl_tinfo *ti;
	pool_page *pg;
	rcl_vec *v;
	rcl_head *o;
	size_t block;
	unsigned gen;

	if (__builtin_expect(h == NULL || t == NULL, 0) ||
	    (ti = tinfo_find(h, t)) == NULL || ti->cls < 0)
		goto slow;
	HEAP_CHECK_OWNER(h);
	gen = ti->gen;
	v = &h->vec[gen];
	pg = h->pool.partial[ti->cls];
	if (__builtin_expect(pg == NULL || v->n == v->cap ||
				 gc_due_new(h, gen == 0, ti->total),
			     0))
		goto slow_unrecorded;
	block = class_size((unsigned)ti->cls);
	if (pg->free) {
		o = pg->free;
		pg->free = *(void **)o;
	} else {
		o = (rcl_head *)pg->bump;
		pg->bump += block;
	}
	if (++pg->used == pg->cap) { /* off the partial list */
		h->pool.partial[ti->cls] = pg->next;
		if (pg->next)
			pg->next->prev = NULL;
		pg->next = NULL;
	}
	o->flags = gen;
	o->idx = v->n;
	v->v[v->n++] = o;
	if (gen == 0)
		h->gens[0].count++;
	new_counts(h, o, ti, t, gen, block);
	if (t->size > 64) /* last, so that memset is a jump */
		return memset(OBJ(o), 0, t->size);
	zero_user(h, o, t->size);
	return OBJ(o);
slow:
	return new_slow(h, t, site);
slow_unrecorded: /* cls >= 0: the heap records no site, site is dead */
	return new_slow(h, t, NULL);
}

/* The exported functions; <reclaim/heap.h> makes rcl_new() and
 * rcl_new_var() macros that call the _at ones with the caller's site. */
void *(rcl_new)(rcl_heap *h, const rcl_type *t)
{
	return new_fast(h, t, NULL);
}

void *rcl_new_at(rcl_heap *h, const rcl_type *t, const rcl_site *site)
{
	return new_fast(h, t, site);
}

/* A zeroed object of size bytes, refcount 1. */
void *(rcl_new_var)(rcl_heap *h, const rcl_type *t, size_t size)
{
	return new_object(h, t, size, true, NULL);
}

void *rcl_new_var_at(rcl_heap *h, const rcl_type *t, size_t size,
		     const rcl_site *site)
{
	return new_object(h, t, size, true, site);
}

/* The exported rcl_incref() and rcl_decref(): what <reclaim/heap.h> has
 * inline, for callers that cannot inline it. */
void rcl_incref(void *obj)
{
	if (obj)
		HEAD(obj)->refcnt++;
}

void rcl_decref(void *obj)
{
	if (obj && --HEAD(obj)->refcnt <= 0)
		rcl_dealloc(obj);
}

/* Move o to the vector of gen, keeping the counts right; false (and o
 * where it was) if memory is short. */
bool heap_relink(rcl_heap *h, rcl_head *o, unsigned gen)
{
	size_t bytes = head_block(o);
	unsigned old = head_gen(o);
	rcl_vec *from = &h->vec[old];
	uint32_t idx = o->idx;

	if (!vec_push(h, &h->vec[gen], o))
		return false;
	/* vec_push renumbered o: take it out of its old vector by hand */
	if (idx + 1 == from->n) {
		from->n--;
		while (from->n && !from->v[from->n - 1]) {
			from->n--;
			from->holes--;
		}
	} else {
		from->v[idx] = NULL;
		from->holes++;
	}
	head_set_gen(o, gen);
	h->slot[old].bytes -= bytes;
	h->slot[gen].objects++;
	h->slot[gen].bytes += bytes;
	return true;
}

/* Take o, of block bytes (and bytes with what it owned), out of its
 * vector and every count. */
static inline void free_counts(rcl_heap *h, rcl_head *o, size_t block,
			       size_t bytes)
{
	unsigned gen = head_gen(o);
	rcl_vec *v = &h->vec[gen];
	rcl_tinfo *ti = o->ti;

	vec_remove(v, o);
	if (__builtin_expect(v->holes > 64, 0) && v->holes * 4 > v->n &&
	    !h->collecting)
		vec_compact(v);
	h->slot[gen].bytes -= block;
	ti->objects--;
	ti->bytes -= bytes;
	/* on an incremental heap, count pacing counts the young alone: a
	 * cache replacing its old entries would otherwise hold the count
	 * down and let the young generation, which every increment
	 * collects, grow without bound */
	if (ti->tracked && h->gens[0].count > 0 &&
	    (gen != RCL_GENERATIONS - 1 || !heap_incremental_now(h)))
		h->gens[0].count--;
	if (__builtin_expect(ti->type->finalize != NULL, 0) &&
	    !(o->flags & F_FINALIZED))
		h->finalizable--;
	h->young_bytes_since -=
	    bytes < h->young_bytes_since ? bytes : h->young_bytes_since;
}

/* heap_free_object() for a pooled object that owns nothing. */
static inline void free_pooled(rcl_heap *h, rcl_head *o)
{
	pool_page *pg = (pool_page *)((uintptr_t)o & ~(uintptr_t)(POOL_PAGE - 1));
	size_t block = class_size(pg->cls);

	free_counts(h, o, block, block);
	pool_put(h, pg, o);
}

/* Take o out of its vector and every count, and give its memory back. */
void heap_free_object(rcl_heap *h, rcl_head *o)
{
	size_t block, bytes;

	if (__builtin_expect(!(o->flags & (F_BIG | F_OWNED | F_SITE)), 1)) {
		free_pooled(h, o);
		return;
	}
	if (o->flags & F_SITE)
		sites_forget(h, o);
	block = head_block(o);
	bytes = block;
	if (o->flags & F_OWNED)
		bytes += heap_owned_take(h, o);
	free_counts(h, o, block, bytes);
	heap_free_block(h, o, block);
}

/* Run o's finalizer once; true if it resurrected o. */
static bool run_finalizer(rcl_heap *h, rcl_head *o)
{
	o->flags |= F_FINALIZED;
	h->finalizable--;
	h->st.finalized_total++;
	o->refcnt++;
	o->ti->type->finalize(OBJ(o));
	return --o->refcnt > 0;
}

/*
 * Free one object whose refcount reached zero: finalize (once; it may
 * resurrect), clear weak references and run their callbacks, clear, destroy,
 * free.
 */
static inline void dealloc_one(rcl_heap *h, rcl_head *o)
{
	const rcl_type *t = o->ti->type;

	if (__builtin_expect(t->finalize != NULL, 0) &&
	    !(o->flags & F_FINALIZED) && run_finalizer(h, o)) {
		h->st.resurrected_total++;
		return; /* it lives on where it was */
	}
	if (__builtin_expect(o->flags & F_WEAK, 0)) {
		rcl_weakref *callbacks = NULL;

		weakref_clear_all(o, &callbacks);
		weakref_run_callbacks(callbacks);
	}
	if (type_clears(o->ti) && !(o->flags & F_CLEARED)) {
		o->flags |= F_CLEARED;
		type_clear(o->ti, OBJ(o));
	}
	if (t->destroy)
		t->destroy(OBJ(o));
	if (__builtin_expect(!(o->flags & (F_BIG | F_OWNED | F_SITE)), 1))
		free_pooled(h, o);
	else
		heap_free_object(h, o);
}

/* Free what waits on the trash, and what that frees in turn. */
static void dealloc_trash(rcl_heap *h)
{
	rcl_head *o;

	while (__builtin_expect(h->trash != NULL, 0)) {
		o = h->trash;
		h->trash = (rcl_head *)o->gc_refs;
		o->gc_refs = 0;
		dealloc_one(h, o);
	}
}

/*
 * The refcount of o reached zero. Freeing one object drops references to
 * others; those that reach zero meanwhile wait on h->trash (still in their
 * vectors) and are freed by the outermost call, so a long chain never grows
 * the stack.
 */
static __attribute__((noinline)) void dealloc_chain(rcl_heap *h, rcl_head *o)
{
	if (h->dealloc_depth > 0) {
		o->gc_refs = (uintptr_t)h->trash;
		h->trash = o;
		return;
	}
	h->dealloc_depth++;
	dealloc_one(h, o);
	dealloc_trash(h);
	h->dealloc_depth--;
}

/*
 * rcl_decref() took the count to zero, or below. During a collection's
 * delete phase, members of the garbage are the collector's to free (gc.c,
 * clear_garbage()): one already cleared is freed now, one not yet cleared
 * when the delete reaches it. That test comes first and alone, so that
 * freeing the garbage costs no more than a call.
 */
void rcl_dealloc(void *obj)
{
	rcl_head *o = HEAD(obj);
	rcl_heap *h;

	if (__builtin_expect(o->refcnt < 0, 0)) {
		/* a decref too many: a bug in a type or its caller, and the
		 * object was freed already. Debug builds stop here. */
		assert(!"rcl_decref of an object with no references");
		return;
	}
	h = o->ti->heap;
	HEAP_CHECK_OWNER(h);
	if (__builtin_expect(IS_GARBAGE(o), 0) && h->deleting) {
		if (o->flags & F_CLEARED)
			gc_free_member(h, o);
		return;
	}
	/* before the trash may link it through gc_refs */
	if (__builtin_expect(o->flags & F_GRAY, 0))
		gc_ungray(h, o);
	/* freeing it runs nothing and frees nothing else: now, and here */
	if (!(o->flags & (F_WEAK | F_BIG | F_OWNED | F_SITE)) &&
	    (o->ti->inert || (o->ti->described && refs_empty(o->ti, obj)))) {
		free_pooled(h, o);
		return;
	}
	dealloc_chain(h, o);
}

size_t rcl_refcount(const void *obj)
{
	return obj ? (size_t)HEAD(obj)->refcnt : 0;
}

rcl_heap *rcl_heap_of(const void *obj)
{
	return obj ? HEAD(obj)->ti->heap : NULL;
}

const rcl_type *rcl_typeof(const void *obj)
{
	return obj ? HEAD(obj)->ti->type : NULL;
}

/* The user bytes: the type's size, or for rcl_new_var() what its block
 * holds (at least the size asked). */
size_t rcl_sizeof(const void *obj)
{
	const rcl_head *o;

	if (!obj)
		return 0;
	o = HEAD(obj);
	if (!(o->flags & F_VAR))
		return o->ti->type->size;
	return head_block(o) - sizeof(rcl_head) -
	       (o->flags & F_BIG ? BIG_PREFIX : 0);
}

size_t rcl_object_bytes(const void *obj)
{
	return obj ? head_block(HEAD(obj)) + rcl_owned_bytes(obj) : 0;
}

bool rcl_is_tracked(const void *obj)
{
	return obj && HEAD(obj)->ti->tracked;
}

/* Call obj's traverse with visit. */
void rcl_traverse(void *obj, rcl_visit_fn visit, void *arg)
{
	const rcl_type *t;

	if (!obj || !visit)
		return;
	t = HEAD(obj)->ti->type;
	type_traverse(t, obj, visit, arg);
}

/* Drop obj's references: the type's clear or the derived one. obj is
 * held meanwhile, and what the clear frees waits on the trash until it has
 * returned, as inside a deallocation: no user code runs under a clear. */
void rcl_clear(void *obj)
{
	rcl_head *o;
	rcl_heap *h;

	if (!obj)
		return;
	o = HEAD(obj);
	h = o->ti->heap;
	HEAP_CHECK_OWNER(h);
	o->refcnt++;
	h->dealloc_depth++;
	type_clear(o->ti, obj);
	if (--h->dealloc_depth == 0) {
		h->dealloc_depth++;
		dealloc_trash(h);
		h->dealloc_depth--;
	}
	rcl_decref(obj);
}

/* o's slot in the owned map (o has F_OWNED). */
static uintptr_t *owned_slot(rcl_heap *h, const rcl_head *o)
{
	return &h->owned.vals[headmap_slot(&h->owned, o)];
}

/* Take o out of the owned map; the bytes it owned (counted out of the
 * heap's total, left to the caller to take off its type's). */
size_t heap_owned_take(rcl_heap *h, rcl_head *o)
{
	size_t i = headmap_slot(&h->owned, o), bytes = h->owned.vals[i];

	headmap_remove_at(&h->owned, i);
	o->flags &= ~(uint32_t)F_OWNED;
	h->st.owned_bytes -= bytes;
	return bytes;
}

/* Count bytes of owned memory against o; -1 (ENOMEM) when the owned map
 * has no room for o, nothing counted. */
static int owned_account(rcl_head *o, size_t bytes)
{
	rcl_heap *h = o->ti->heap;

	if (bytes == 0)
		return 0;
	if (!(o->flags & F_OWNED)) {
		if (!headmap_grow(h, &h->owned)) {
			errno = ENOMEM;
			return -1;
		}
		headmap_put(&h->owned, o, 0);
		o->flags |= F_OWNED;
	}
	*owned_slot(h, o) += bytes;
	h->owned_ops++;
	o->ti->bytes += bytes;
	h->st.owned_bytes += bytes;
	h->young_bytes_since += bytes;
	return 0;
}

/* Account memory the caller owns; paces, and admits, first. */
int rcl_owned_add(void *obj, size_t bytes)
{
	rcl_head *o;
	rcl_heap *h;

	if (!obj) {
		errno = EINVAL;
		return -1;
	}
	o = HEAD(obj);
	h = o->ti->heap;
	HEAP_CHECK_OWNER(h);
	gc_maybe_collect(h, bytes);
	if (bytes > 0 && !heap_admit(h, ADMIT_OWNED_ADD, bytes)) {
		h->st.alloc_failures_total++;
		return -1; /* errno ENOMEM */
	}
	if (owned_account(o, bytes) != 0) {
		heap_unreserve(h);
		h->st.alloc_failures_total++;
		return -1;
	}
	heap_account(h, bytes);
	return 0;
}

/* Stop accounting bytes of owned memory (at most what is accounted). */
void rcl_owned_sub(void *obj, size_t bytes)
{
	uintptr_t *slot;
	rcl_head *o;
	rcl_heap *h;

	if (!obj)
		return;
	o = HEAD(obj);
	h = o->ti->heap;
	if (!(o->flags & F_OWNED))
		return;
	slot = owned_slot(h, o);
	if (bytes >= *slot) {
		bytes = heap_owned_take(h, o);
	} else {
		*slot -= bytes;
		h->st.owned_bytes -= bytes;
	}
	o->ti->bytes -= bytes;
	h->young_bytes_since -=
	    bytes < h->young_bytes_since ? bytes : h->young_bytes_since;
}

/* Allocate size bytes owned by obj: pace, allocate, account. The block is
 * aligned for any type, as malloc's is (its size rounded up to 16). */
void *rcl_owned_alloc(void *obj, size_t size)
{
	rcl_head *o;
	rcl_heap *h;
	void *p;

	if (!obj) {
		errno = EINVAL;
		return NULL;
	}
	if (size > SIZE_MAX / 2) {
		errno = ENOMEM;
		return NULL;
	}
	o = HEAD(obj);
	h = o->ti->heap;
	HEAP_CHECK_OWNER(h);
	gc_maybe_collect(h, size);
	p = pool_alloc(h, align16(size));
	if (!p && !h->refused && !h->collecting && !h->dealloc_depth) {
		gc_collect(h, RCL_GENERATIONS - 1, REASON_ALLOC);
		p = pool_alloc(h, align16(size));
	}
	if (!p || owned_account(o, size) != 0) {
		pool_free(h, p, align16(size));
		h->st.alloc_failures_total++;
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

/* Free memory from rcl_owned_alloc() and stop accounting it. */
void rcl_owned_free(void *obj, void *ptr, size_t size)
{
	if (!obj || !ptr)
		return;
	rcl_owned_sub(obj, size);
	pool_free(HEAD(obj)->ti->heap, ptr, align16(size));
}

size_t rcl_owned_bytes(const void *obj)
{
	const rcl_head *o = obj ? HEAD(obj) : NULL;

	if (!o || !(o->flags & F_OWNED))
		return 0;
	return o->ti->heap->owned.vals[headmap_slot(&o->ti->heap->owned, o)];
}

/* Give back the memory the heap keeps for reuse. */
size_t rcl_heap_trim(rcl_heap *h)
{
	size_t bytes = 0;

	if (!h || h->collecting)
		return 0;
	HEAP_CHECK_OWNER(h);
	for (unsigned g = 0; g < NSLOTS; g++)
		bytes += vec_shrink(h, &h->vec[g]);
	return bytes + pool_trim(h) + block_trim(h, 0);
}

/* Give back the cached blocks and the free pool pages unused for a
 * second. */
size_t rcl_heap_release_idle(rcl_heap *h)
{
	if (!h)
		return 0;
	HEAP_CHECK_OWNER(h);
	return block_trim(h, BLOCK_IDLE_NS) +
	       pool_release_idle(&h->pool, gauge_now_ns());
}

/* Copy the statistics of h into out. */
void rcl_heap_stats(const rcl_heap *h, rcl_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!h)
		return;
	*out = h->st;
	out->bytes = heap_total_bytes(h);
	for (int i = 0; i < NSLOTS; i++)
		out->objects += vec_count(&h->vec[i]);
	out->untracked_objects = vec_count(&h->vec[GEN_UNTRACKED]);
	out->frozen_objects = vec_count(&h->vec[GEN_PERMANENT]);
	out->frees_total = h->st.allocations_total - out->objects;
	out->young_bytes = h->young_bytes;
	out->young_bytes_since = h->young_bytes_since;
	out->full_bytes_floor = h->full_floor;
	out->auto_collect = h->enabled;
	out->incremental = h->incremental;
	out->increment_objects = h->increment_objects;
	out->old_pending_objects = gc_old_pending(h);
	out->block_bytes = h->blocks.mapped_bytes;
	out->cached_bytes = h->blocks.cached_bytes;
	out->pool_free_bytes = (h->pool.dirty + h->pool.nspare) * POOL_PAGE;
	out->block_maps_total = h->blocks.maps;
	out->block_reuses_total = h->blocks.reuses;
	for (int i = 0; i < RCL_GENERATIONS; i++) {
		rcl_gen_stats *g = &out->gen[i];

		g->objects = vec_count(&h->vec[i]);
		g->bytes = h->slot[i].bytes;
		g->count = h->gens[i].count;
		g->threshold = h->gens[i].threshold;
		g->collections = h->gens[i].collections;
		g->collected = h->gens[i].collected;
		g->uncollectable = h->gens[i].uncollectable;
	}
}

/* Live objects and bytes per type. */
size_t rcl_heap_census(const rcl_heap *h, rcl_type_stats *out, size_t max)
{
	size_t n = 0;

	if (!h)
		return 0;
	for (size_t i = 0; i < h->types_cap; i++) {
		const rcl_tinfo *ti = h->types[i];

		if (!ti)
			continue;
		if (out && n < max) {
			out[n].type = ti->type;
			out[n].name = ti->type->name ? ti->type->name : "?";
			out[n].objects = ti->objects;
			out[n].bytes = ti->bytes;
		}
		n++;
	}
	return n;
}

/* Check one vector: indexes, GEN bits, counts; false on a violation. */
static bool validate_vec(const rcl_heap *h, unsigned gen, size_t *owned)
{
	const rcl_vec *v = &h->vec[gen];
	size_t objects = 0, bytes = 0, holes = 0;

	for (uint32_t i = 0; i < v->n; i++) {
		const rcl_head *o = v->v[i];

		if (!o) {
			holes++;
			continue;
		}
		if (o->idx != i || head_gen(o) != gen || o->refcnt <= 0 ||
		    o->ti->heap != h) {
			fprintf(stderr,
				"rcl: vector %u[%u]: object %p of type "
				"%s has idx %u gen %u refcnt %ld\n",
				gen, i, OBJ(o), o->ti->type->name, o->idx,
				head_gen(o), (long)o->refcnt);
			return false;
		}
		if (!h->collecting &&
		    (o->flags & (F_COLLECTING | F_REACHABLE))) {
			fprintf(stderr,
				"rcl: %p: collector flags outside a "
				"collection\n",
				OBJ(o));
			return false;
		}
		objects++;
		bytes += head_block(o);
		*owned += rcl_owned_bytes(OBJ(o));
	}
	if (objects != vec_count(v) || bytes != h->slot[gen].bytes ||
	    holes != v->holes || (v->n && !v->v[v->n - 1])) {
		fprintf(stderr,
			"rcl: vector %u: %zu objects %zu bytes %zu "
			"holes, counted %zu, %zu and %u\n",
			gen, objects, bytes, holes, vec_count(v),
			h->slot[gen].bytes, v->holes);
		return false;
	}
	return true;
}

/* Objects with F_OWNED: as many as the owned map has entries. */
static size_t owned_entries(const rcl_heap *h)
{
	size_t n = 0;

	for (unsigned g = 0; g < NSLOTS; g++) {
		for (uint32_t i = 0; i < h->vec[g].n; i++) {
			const rcl_head *o = h->vec[g].v[i];

			n += o && (o->flags & F_OWNED);
		}
	}
	return n;
}

/* Check every list and counter against the documented invariants. */
bool rcl_heap_validate(const rcl_heap *h)
{
	size_t owned = 0, objects = 0, bytes = 0, tobjects = 0, tbytes = 0;

	if (!h)
		return false;
	for (unsigned g = 0; g < NSLOTS; g++) {
		if (!validate_vec(h, g, &owned))
			return false;
		objects += vec_count(&h->vec[g]);
		bytes += h->slot[g].bytes;
	}
	for (size_t i = 0; i < h->types_cap; i++) {
		if (h->types[i]) {
			tobjects += h->types[i]->objects;
			tbytes += h->types[i]->bytes;
		}
	}
	if (tobjects != objects || tbytes != bytes + owned ||
	    owned != h->st.owned_bytes || owned_entries(h) != h->owned.n) {
		fprintf(stderr,
			"rcl: per-type %zu/%zu, lists %zu/%zu, owned "
			"%zu counted %zu\n",
			tobjects, tbytes, objects, bytes, owned,
			h->st.owned_bytes);
		return false;
	}
	return true;
}

/* Call fn on every object of every vector. */
static void each_object(rcl_heap *h, void (*fn)(rcl_heap *, rcl_head *))
{
	for (unsigned g = 0; g < NSLOTS; g++) {
		rcl_vec *v = &h->vec[g];

		for (uint32_t i = 0; i < v->n; i++)
			if (v->v[i])
				fn(h, v->v[i]);
	}
}

/* Pin o and cut its weak references, running no callback. */
static void pin(rcl_heap *h, rcl_head *o)
{
	(void)h;
	o->refcnt++;
	if (o->flags & F_WEAK) {
		rcl_weakref *callbacks = NULL;

		weakref_clear_all(o, &callbacks);
		weakref_drop_callbacks(callbacks);
	}
}

static void clear_once(rcl_heap *h, rcl_head *o)
{
	(void)h;
	if (type_clears(o->ti) && !(o->flags & F_CLEARED)) {
		o->flags |= F_CLEARED;
		type_clear(o->ti, OBJ(o));
	}
}

static void destroy_free(rcl_heap *h, rcl_head *o)
{
	if (o->ti->type->destroy)
		o->ti->type->destroy(OBJ(o));
	heap_free_object(h, o);
}

/*
 * Free what a final collection left: the objects someone still holds.
 * Weak references are cut, every object is cleared while all are pinned
 * (so none is freed halfway), then each is destroyed and freed.
 */
static void free_remaining(rcl_heap *h)
{
	each_object(h, pin);
	each_object(h, clear_once);
	each_object(h, destroy_free);
}

/* Collect, free what is left, then the heap itself. */
void rcl_heap_destroy(rcl_heap *h)
{
	if (!h)
		return;
	HEAP_CHECK_OWNER(h);
	gc_pass_abort(h);
	rcl_unfreeze(h);
	if (!h->collecting)
		gc_collect(h, RCL_GENERATIONS - 1, REASON_MANUAL);
	h->collecting = true; /* no collection from here on */
	free_remaining(h);
	sites_free(h);
	heap_raw_free(h, h->taken_from, h->taken_cap * sizeof(*h->taken_from));
	heap_raw_free(h, h->work, h->work_cap * sizeof(*h->work));
	for (unsigned g = 0; g < NSLOTS; g++)
		vec_free(h, &h->vec[g]);
	headmap_free(h, &h->weak);
	headmap_free(h, &h->owned);
	block_trim(h, 0);
	heap_set_gauge(h, NULL);
	pool_finish(h);
	for (size_t i = 0; i < h->types_cap; i++)
		heap_raw_free(h, h->types[i], sizeof(rcl_tinfo));
	heap_raw_free(h, h->types, h->types_cap * sizeof(*h->types));
	heap_raw_free(h, h, sizeof(*h));
}
