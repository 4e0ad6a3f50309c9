/*
 * Large blocks: owned payloads and objects of BLOCK_MIN bytes or more are
 * mapped from the kernel directly, populated at once, and unmapped when
 * freed, but for a small per-heap cache of freed blocks kept for reuse.
 * Only with the default allocator (a test's allocator sees every byte).
 *
 * Why not malloc: glibc raises its mmap threshold after the first large free
 * (up to 32 MiB), so later large blocks come from its heap, where small
 * allocations made between two requests split the freed hole and the next
 * block takes fresh memory: a service that frees a 20 MiB payload and takes
 * another on every request then holds twice what it uses. Mapping gives the
 * memory back the moment it is freed, and the cache keeps the common case
 * (free one, take one of the same size) from paying the kernel's page faults
 * each time. Why populate at once: the block is counted against the limit
 * when it is mapped (gauge.h), and the kernel's own count should agree
 * before the caller writes it; it costs the page faults the caller would
 * pay anyway, in one call. Blocks of 2 MiB and more ask for transparent
 * huge pages, which cut those faults 512-fold where the kernel has them.
 *
 * A block starts with a header that holds its mapped size (a cached block
 * may serve a request a little smaller than itself, so the size freed does
 * not tell it); the caller's bytes follow, 64-byte aligned. The cache holds
 * at most BLOCK_SLOTS blocks and blocks.cache_max bytes; a freed block that
 * does not fit replaces the oldest. rcl_heap_trim() gives
 * all of it back, rcl_heap_release_idle() what has not been used for
 * BLOCK_IDLE_NS, and admission trims it before it refuses.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gauge.h"
#include "internal.h"

#define HUGE_BYTES ((size_t)2 << 20)

/* What a block keeps before the caller's bytes. */
struct block_head {
	size_t cap; /* bytes mapped */
	char pad[64 - sizeof(size_t)];
};

/* size rounded up to whole pages. */
static size_t page_round(size_t size)
{
	long p = sysconf(_SC_PAGESIZE); /* a variable's read, in glibc */
	size_t page = p > 0 ? (size_t)p : 4096;

	return (size + page - 1) & ~(page - 1);
}

/* Pages for size bytes and the header, rounded up. */
static size_t block_cap(size_t size)
{
	return page_round(size + sizeof(struct block_head));
}

/* Unmap a block and count it out. */
static void unmap_block(rcl_heap *h, void *p, size_t cap)
{
	lsan_unmapping(p, cap);
	if (h->gauge != NULL)
		gauge_block_unmap(h->gauge, p, cap);
	else
		munmap(p, cap);
	h->blocks.mapped_bytes -= cap;
	h->blocks.unmaps++;
}

/* Take cache slot i out of the cache. */
static void *cache_take(rcl_blocks *b, size_t i)
{
	void *p = b->slot[i].p;

	b->cached_bytes -= b->slot[i].cap;
	b->slot[i] = b->slot[--b->n];
	return p;
}

/* A cached block for cap bytes: big enough, and not wasting more than a
 * quarter of itself. Its slot, or -1. */
static long cache_find(const rcl_blocks *b, size_t cap)
{
	for (size_t i = 0; i < b->n; i++) {
		size_t c = b->slot[i].cap;

		if (c >= cap && c - cap <= cap / 4)
			return (long)i;
	}
	return -1;
}

/* Bytes mapping size would take from the kernel now: 0 if the cache has
 * a block for it. */
size_t block_growth(const rcl_heap *h, size_t size)
{
	size_t cap = block_cap(size);

	return cache_find(&h->blocks, cap) >= 0 ? 0 : cap;
}

/* Fault the block in, writable, in one call where the kernel can. */
static int populate(void *p, size_t cap)
{
	size_t page = page_round(1);

#ifdef MADV_POPULATE_WRITE
	if (madvise(p, cap, MADV_POPULATE_WRITE) == 0)
		return 0;
	if (errno != EINVAL)
		return -1; /* ENOMEM, EFAULT: the memory is not there */
#endif
	for (size_t off = 0; off < cap; off += page)
		((volatile char *)p)[off] = 0;
	return 0;
}

/* Map and populate a new block of cap bytes; NULL (ENOMEM) if the kernel
 * has none. Admission reserved the bytes in the gauge (or this does), so
 * they count while the kernel populates them, then as a block. */
static void *map_block(rcl_heap *h, size_t cap)
{
	struct rcl_gauge *g = h->gauge;
	void *p;
	int ok;

	if (g != NULL) {
		gauge_reserve(g, (int64_t)cap - (int64_t)h->reserved);
		h->reserved = 0;
	}
	p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	ok = p != MAP_FAILED;
	if (ok && cap >= HUGE_BYTES)
		madvise(p, cap, MADV_HUGEPAGE);
	if (ok && populate(p, cap) != 0) {
		munmap(p, cap);
		ok = 0;
	}
	if (g != NULL)
		gauge_reserved_done(g, cap, ok, false);
	if (!ok) {
		errno = ENOMEM;
		return NULL;
	}
	lsan_mapped(p, cap);
	h->blocks.mapped_bytes += cap;
	h->blocks.maps++;
	return p;
}

/* A block of at least size bytes: a cached one that fits, or a new one.
 * Not zeroed when it comes from the cache. */
void *block_alloc(rcl_heap *h, size_t size)
{
	rcl_blocks *b = &h->blocks;
	size_t cap = block_cap(size);
	long i = cache_find(b, cap);
	struct block_head *hd;

	if (i >= 0) {
		b->reuses++;
		heap_unreserve(h);
		cap = b->slot[i].cap;
		hd = cache_take(b, (size_t)i);
	} else {
		hd = map_block(h, cap);
		if (hd == NULL && b->n > 0) {
			block_trim(h, 0); /* the cache may be what is short */
			hd = map_block(h, cap);
		}
		if (hd == NULL)
			return NULL;
	}
	hd->cap = cap;
	return hd + 1;
}

/* Give back a block of size bytes from block_alloc(): into the cache if it
 * may hold it (the oldest block making room), else to the kernel. */
void block_free(rcl_heap *h, void *ptr, size_t size)
{
	struct block_head *p = (struct block_head *)ptr - 1;
	rcl_blocks *b = &h->blocks;
	size_t cap = p->cap;
	size_t oldest = 0;

	(void)size;
	if (cap > b->cache_max) {
		unmap_block(h, p, cap);
		return;
	}
	while (b->n > 0 &&
	       (b->n == BLOCK_SLOTS || b->cached_bytes + cap > b->cache_max)) {
		for (size_t i = 1; i < b->n; i++) {
			if (b->slot[i].freed_ns < b->slot[oldest].freed_ns)
				oldest = i;
		}
		unmap_block(h, b->slot[oldest].p, b->slot[oldest].cap);
		cache_take(b, oldest);
		oldest = 0;
	}
	b->slot[b->n].p = p;
	b->slot[b->n].cap = cap;
	b->slot[b->n].freed_ns = gauge_now_ns();
	b->n++;
	b->cached_bytes += cap;
}

/* Unmap the cached blocks freed more than idle_ns ago (0: all of them);
 * the bytes given back. */
size_t block_trim(rcl_heap *h, uint64_t idle_ns)
{
	rcl_blocks *b = &h->blocks;
	uint64_t now = idle_ns ? gauge_now_ns() : 0;
	size_t bytes = 0, i = 0;

	while (i < b->n) {
		if (idle_ns && now - b->slot[i].freed_ns < idle_ns) {
			i++;
			continue;
		}
		bytes += b->slot[i].cap;
		unmap_block(h, b->slot[i].p, b->slot[i].cap);
		cache_take(b, i);
	}
	return bytes;
}
