/*
 * The pool: small blocks (objects, extension records, small payloads) in
 * size classes of 16 bytes, carved from 64 KiB pages aligned to their size,
 * as CPython's pymalloc does. One heap, one thread: no locks. Pages come
 * from arenas of ARENA_PAGES mapped from the kernel, as pymalloc's arenas
 * are. A page whose blocks are all free is kept for reuse (POOL_SPARE of
 * them, which pool_trim() returns too) or marked free in its arena; free
 * pages are given back to the kernel in batches, an arena whole when all
 * its pages are free: once the first of them has been free for
 * POOL_IDLE_NS (pool_release_idle(): checked at the end of each collection,
 * for every ARENA_PAGES pages freed, and by rcl_heap_release_idle()), and
 * all at once by pool_trim() (rcl_heap_trim(), the watchdog's trim,
 * admission before it refuses). Until then a free page is taken again
 * before any other, with no page fault. The fast paths are inline in
 * internal.h.
 *
 * Why a delay, as jemalloc's decay and mimalloc's purge delay have: a
 * service frees and makes again about as much as a collection freed. Given
 * back at once, each page cost a madvise in the pause and a page fault on
 * its next use; on a guest VM, where both are dear, the Node.tree
 * benchmark's full collections took 23 ns an object with that, and most of
 * it was madvise. The delay costs no peak: a free page was resident
 * already.
 *
 * Why: the collector touches every object of a generation several times,
 * and freeing garbage is most of a full collection; packed pages keep those
 * passes in cache and make a free a few instructions. Why arenas and not
 * aligned_alloc(): glibc serves a 64 KiB-aligned 64 KiB block by splitting
 * a larger one, and the pieces and freed pages stayed resident in its
 * arenas: the Node.tree benchmark's peak RSS was 39 MB with aligned_alloc,
 * 28 MB with pages of our own (measured).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "gauge.h"
#include "internal.h"

/* Use the pool only with the default allocator and without ASan. */
void pool_init(rcl_pool *p, const rcl_allocator *a)
{
	const char *env = getenv("RECLAIM_POOL");

	memset(p, 0, sizeof(*p));
	p->enabled = !a->alloc && !(env && strcmp(env, "0") == 0);
	if (RCL_ASAN)
		p->enabled = false;
}

static void page_link(rcl_pool *p, pool_page *pg)
{
	pg->prev = NULL;
	pg->next = p->partial[pg->cls];
	if (pg->next)
		pg->next->prev = pg;
	p->partial[pg->cls] = pg;
}

static void page_unlink(rcl_pool *p, pool_page *pg)
{
	if (pg->prev)
		pg->prev->next = pg->next;
	else
		p->partial[pg->cls] = pg->next;
	if (pg->next)
		pg->next->prev = pg->prev;
	pg->next = pg->prev = NULL;
}

/* Map a new arena: ARENA_PAGES pages (4 MiB), aligned to its size (a
 * mapping twice as large, trimmed at both ends). Why 4 MiB, aligned: the
 * Node.tree benchmark's full collections took 38 ns an object with arenas
 * of 1 MiB aligned to a page, 25 with these, on a machine where mapping,
 * unmapping and the TLB flushes they bring are dear (a guest VM): a third
 * of the mmap, munmap and madvise calls, each covering more, and page
 * tables whole to an arena. Peak RSS did not move (22.6 MB). NULL if the
 * kernel has no memory. */
static pool_arena *arena_new(rcl_pool *p)
{
	size_t len = 2 * ARENA_PAGES * POOL_PAGE;
	pool_arena *a = malloc(sizeof(*a));
	char *m, *base;

	if (a == NULL)
		return NULL;
	m = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		free(a);
		return NULL;
	}
	base = (char *)(((uintptr_t)m + ARENA_PAGES * POOL_PAGE - 1) &
			~(uintptr_t)(ARENA_PAGES * POOL_PAGE - 1));
	if (base > m)
		munmap(m, (size_t)(base - m));
	if (base + ARENA_PAGES * POOL_PAGE < m + len)
		munmap(base + ARENA_PAGES * POOL_PAGE,
		       (size_t)(m + len - (base + ARENA_PAGES * POOL_PAGE)));
	a->base = base;
	a->free_mask = ARENA_ALL;
	a->dirty_mask = 0;
	a->prev = NULL;
	a->next = p->arenas;
	if (a->next)
		a->next->prev = a;
	p->arenas = a;
	return a;
}

/* Unmap an arena and forget it. */
static void arena_free(rcl_pool *p, pool_arena *a)
{
	if (a->prev)
		a->prev->next = a->next;
	else
		p->arenas = a->next;
	if (a->next)
		a->next->prev = a->prev;
	munmap(a->base, ARENA_PAGES * POOL_PAGE);
	free(a);
}

/* A free page from an arena (a resident one first), or from a new arena. */
static pool_page *page_take(rcl_pool *p)
{
	pool_arena *a, *best = NULL;
	uint64_t mask;
	int i;

	for (a = p->arenas; a != NULL; a = a->next) {
		if (a->dirty_mask) {
			best = a;
			break;
		}
		if (a->free_mask && best == NULL)
			best = a;
	}
	if (best == NULL && (best = arena_new(p)) == NULL)
		return NULL;
	mask = best->dirty_mask ? best->dirty_mask : best->free_mask;
	i = __builtin_ctzll(mask);
	best->free_mask &= ~((uint64_t)1 << i);
	if (best->dirty_mask & ((uint64_t)1 << i)) {
		best->dirty_mask &= ~((uint64_t)1 << i);
		if (--p->dirty == 0)
			p->dirty_ns = 0;
	}
	p->pages++;
	((pool_page *)(best->base + (size_t)i * POOL_PAGE))->arena = best;
	return (pool_page *)(best->base + (size_t)i * POOL_PAGE);
}

/* pg is free: mark it so in its arena, to be given back later. */
static void page_put(rcl_pool *p, pool_page *pg)
{
	pool_arena *a = pg->arena;
	uint64_t bit = (uint64_t)1
		       << ((size_t)((char *)pg - a->base) / POOL_PAGE);

	a->free_mask |= bit;
	a->dirty_mask |= bit;
	if (p->dirty++ == 0)
		p->dirty_ns = gauge_now_ns();
	p->pages--;
	if (p->dirty % ARENA_PAGES == 0) /* a clock read each 4 MiB */
		pool_release_idle(p, gauge_now_ns());
}

/* Give the free pages back to the kernel: an arena whose pages are all free
 * is unmapped, the free pages of the others are dropped (MADV_DONTNEED) a
 * run at a time. The bytes given back. */
size_t pool_release(rcl_pool *p)
{
	pool_arena *a = p->arenas, *next;
	size_t bytes = 0;

	for (; a != NULL && p->dirty > 0; a = next) {
		uint64_t d = a->dirty_mask;

		next = a->next;
		if (d == 0)
			continue;
		bytes += (size_t)__builtin_popcountll(d) * POOL_PAGE;
		p->dirty -= (size_t)__builtin_popcountll(d);
		a->dirty_mask = 0;
		if (a->free_mask == ARENA_ALL) {
			arena_free(p, a);
			continue;
		}
		while (d) {
			int lo = __builtin_ctzll(d), hi = lo;

			while (hi + 1 < ARENA_PAGES &&
			       (d & ((uint64_t)1 << (hi + 1))))
				hi++;
			madvise(a->base + (size_t)lo * POOL_PAGE,
				(size_t)(hi - lo + 1) * POOL_PAGE,
				MADV_DONTNEED);
			/* clear bits lo..hi */
			d &= ~((~(uint64_t)0 >> (63 - hi)) &
			       ~(((uint64_t)1 << lo) - 1));
		}
	}
	if (p->dirty == 0)
		p->dirty_ns = 0;
	return bytes;
}

/* pool_release() once the first free page not given back has been free for
 * POOL_IDLE_NS at now_ns; 0 bytes before. */
size_t pool_release_idle(rcl_pool *p, uint64_t now_ns)
{
	if (p->dirty == 0 || now_ns - p->dirty_ns < POOL_IDLE_NS)
		return 0;
	return pool_release(p);
}

/* A fresh page for class cls: the spare, or a free one. */
static pool_page *page_new(rcl_pool *p, unsigned cls)
{
	pool_page *pg = p->spare;
	pool_arena *a;

	if (pg) {
		p->spare = pg->next;
		p->nspare--;
	} else if ((pg = page_take(p)) == NULL) {
		return NULL;
	}
	a = pg->arena;
	memset(pg, 0, sizeof(*pg));
	pg->arena = a;
	pg->cls = cls;
	pg->bump = (char *)pg + PAGE_HEADER;
	pg->cap = (uint32_t)((POOL_PAGE - PAGE_HEADER) / class_size(cls));
	page_link(p, pg);
	return pg;
}

/* The slow path of pool_alloc(): a block from a new page, once admission
 * (which may collect, and so make room in a page) lets the heap take it. */
void *pool_alloc_slow(rcl_heap *h, unsigned cls)
{
	pool_page *pg;

	if (!h->pool.spare && h->limited) {
		bool ok = heap_admit_slow(h, ADMIT_POOL, class_size(cls));

		if (h->pool.partial[cls])
			return pool_alloc(h, class_size(cls));
		if (!ok)
			return NULL;
	}
	if (h->pool.spare) {
		pg = page_new(&h->pool, cls);
	} else if ((pg = page_new(&h->pool, cls)) != NULL) {
		heap_account(h, POOL_PAGE);
	} else {
		heap_unreserve(h);
	}
	return pg ? pool_alloc(h, class_size(cls)) : NULL;
}

/* The slow path of pool_free(): the page of b was full or is now empty. */
void pool_free_slow(rcl_heap *h, pool_page *pg, void *b, bool was_full)
{
	rcl_pool *p = &h->pool;

	if (was_full)
		page_link(p, pg);
	*(void **)b = pg->free;
	pg->free = b;
	if (--pg->used)
		return;
	page_unlink(p, pg);
	if (p->nspare < POOL_SPARE) {
		pg->next = p->spare;
		p->spare = pg;
		p->nspare++;
	} else {
		page_put(p, pg);
	}
}

/* Return the spare pages and every free page; the bytes given back. */
size_t pool_trim(rcl_heap *h)
{
	rcl_pool *p = &h->pool;

	while (p->spare) {
		pool_page *pg = p->spare;

		p->spare = pg->next;
		page_put(p, pg);
	}
	p->nspare = 0;
	return pool_release(p);
}

/* Unmap every arena (the heap is gone). */
void pool_finish(rcl_heap *h)
{
	rcl_pool *p = &h->pool;

	while (p->arenas)
		arena_free(p, p->arenas);
	memset(p, 0, sizeof(*p));
}
