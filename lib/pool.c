/*
 * The pool: small blocks (objects, extension records, small payloads) in
 * size classes of 16 bytes, carved from 64 KiB pages aligned to their size,
 * as CPython's pymalloc does. One heap, one thread: no locks. A page whose
 * blocks are all free goes back to the allocator, but for POOL_SPARE pages
 * kept for reuse, which pool_trim() returns too. The fast paths are inline
 * in internal.h.
 *
 * Why: the collector touches every object of a generation several times,
 * and freeing garbage is most of a full collection; packed pages keep those
 * passes in cache and make a free a few instructions.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Use the pool only with the default allocator and without ASan. */
void pool_init(rcl_pool *p, const rcl_allocator *a)
{
	const char *env = getenv("RECLAIM_POOL");

	memset(p, 0, sizeof(*p));
	p->enabled = !a->alloc && !(env && strcmp(env, "0") == 0);
#if defined(__SANITIZE_ADDRESS__)
	p->enabled = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	p->enabled = false;
#endif
#endif
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

static void all_unlink(rcl_pool *p, pool_page *pg)
{
	if (pg->all_prev)
		pg->all_prev->all_next = pg->all_next;
	else
		p->all = pg->all_next;
	if (pg->all_next)
		pg->all_next->all_prev = pg->all_prev;
}

/* A fresh page for class cls: the spare, or a new aligned one. */
static pool_page *page_new(rcl_pool *p, unsigned cls)
{
	pool_page *pg = p->spare;

	if (pg) {
		p->spare = pg->next;
		p->nspare--;
	} else {
		pg = aligned_alloc(POOL_PAGE, POOL_PAGE);
		if (!pg)
			return NULL;
		p->pages++;
	}
	memset(pg, 0, sizeof(*pg));
	pg->all_next = p->all;
	if (p->all)
		p->all->all_prev = pg;
	p->all = pg;
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
	all_unlink(p, pg);
	if (p->nspare < POOL_SPARE) {
		pg->next = p->spare;
		p->spare = pg;
		p->nspare++;
	} else {
		free(pg);
		p->pages--;
	}
}

/* Return the spare pages; the bytes given back. */
size_t pool_trim(rcl_heap *h)
{
	rcl_pool *p = &h->pool;
	size_t bytes = 0;

	while (p->spare) {
		pool_page *pg = p->spare;

		p->spare = pg->next;
		free(pg);
		p->pages--;
		bytes += POOL_PAGE;
	}
	p->nspare = 0;
	return bytes;
}

/* Free every page (the heap is gone). */
void pool_finish(rcl_heap *h)
{
	rcl_pool *p = &h->pool;

	while (p->all) {
		pool_page *pg = p->all;

		p->all = pg->all_next;
		free(pg);
	}
	memset(p->partial, 0, sizeof(p->partial));
	pool_trim(h);
}
