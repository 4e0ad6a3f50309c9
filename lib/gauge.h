/*
 * The gauge: what the watchdog and the heaps attached to it share of memory
 * against the limit, so that a heap on any thread can decide at allocation
 * time whether memory it is about to take fits (admit.c).
 *
 * The usage estimate is cheap to read on the allocation path:
 *
 *   estimate = usage at the last reading
 *            + large blocks mapped since it (exactly: less those unmapped)
 *            + other memory the heaps took since it (pool pages, malloc'd
 *              blocks, caller-managed bytes; each heap adds its own in
 *              batches of 64 KiB, and this heap's unflushed part is its own)
 *            + memory reserved now: admitted, being taken or populated
 *
 * A reading is a kernel figure (the same "usage" the watchdog works to: the
 * limiting cgroup's usage less its inactive file cache, or the process's RSS
 * against a configured limit, or MemTotal - MemAvailable); the watchdog takes
 * one at each sample, and a heap takes one itself (gauge_read(), about a
 * microsecond) when its estimate passes the soft level. Admission of 64 KiB
 * or more reserves the bytes before it compares (one atomic add), so two
 * heaps cannot both take the last of the headroom: the second sees the
 * first's reservation. Memory taken between the moment a reading notes the
 * counters and the kernel's figure is counted twice until the next reading:
 * the estimate errs high there, not low. What code outside the heaps takes
 * is seen at the next reading, which the watchdog takes at an interval that
 * shortens as usage nears a level.
 *
 * Threads: every field but the lock and the reader is atomic; a reading is
 * taken under the lock, which also serializes the reader with the
 * watchdog's own samples (the built-in source shares its file descriptors).
 * The gauge is reference counted: the watchdog holds one reference and each
 * attached heap another, so either may go first.
 */
#ifndef RECLAIM_GAUGE_H
#define RECLAIM_GAUGE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <reclaim/heap.h>

#pragma GCC visibility push(hidden)

/* Read usage now into *usage (bytes); 0, or -1 to keep the last reading. */
typedef int (*gauge_read_fn)(void *ctx, uint64_t *usage);

struct rcl_gauge {
	atomic_int refs;
	pthread_mutex_t lock; /* readings; the reader's and wake_fd's life */
	gauge_read_fn read;	    /* NULL once the watchdog is gone */
	void *read_ctx;
	atomic_uint_fast64_t soft;  /* bytes; 0: admission off */
	atomic_uint_fast64_t hard;
	atomic_int_fast64_t base;	    /* the reading less blocks then */
	atomic_uint_fast64_t blocks;	    /* bytes of large blocks mapped */
	atomic_uint_fast64_t recent;	    /* other memory taken since */
	atomic_uint_fast64_t inflight;	    /* reserved: being taken */
	atomic_uint_fast64_t readings;	    /* how many: heaps compare */
	atomic_uint_fast64_t read_ns;	    /* when the last one was taken */
	atomic_uint heaps;		    /* attached: they share the headroom */
	atomic_uint_fast32_t pace_divisor;  /* pacing past soft, as the */
	atomic_uint_fast64_t pace_min;	    /* watchdog's (see pace_target) */
	int wake_fd; /* eventfd the watchdog listens on (under the lock) */
	atomic_uint_fast64_t refused;	    /* allocations refused, all heaps */
	atomic_uint_fast64_t refused_bytes;
	atomic_uint_fast64_t collections;   /* run by the allocation path */
	atomic_uint_fast64_t heap_readings; /* readings heaps took */
	atomic_uint_fast64_t wakes;	    /* times a heap woke the watchdog */
	atomic_uint_fast64_t trim_ns;	    /* the last malloc_trim() */
};

struct rcl_gauge *gauge_create(void);
struct rcl_gauge *gauge_ref(struct rcl_gauge *g);
void gauge_unref(struct rcl_gauge *g);

uint64_t gauge_now_ns(void);

/* The estimate, before what the calling heap took and has not flushed. */
static inline uint64_t gauge_estimate(const struct rcl_gauge *g)
{
	int_fast64_t e =
	    atomic_load_explicit(&g->base, memory_order_relaxed) +
	    (int_fast64_t)atomic_load_explicit(&g->blocks,
					       memory_order_relaxed) +
	    (int_fast64_t)atomic_load_explicit(&g->recent,
					       memory_order_relaxed) +
	    (int_fast64_t)atomic_load_explicit(&g->inflight,
					       memory_order_relaxed);

	return e > 0 ? (uint64_t)e : 0;
}

/* Take a reading now (any thread); false if there is no reader or it
 * failed, the estimate then as it was. */
bool gauge_read(struct rcl_gauge *g);
/* The watchdog's sample: usage read just after blocks and recent were
 * noted (with gauge_mark()). Under g->lock. */
struct gauge_mark {
	uint64_t blocks, recent;
};
void gauge_mark(struct rcl_gauge *g, struct gauge_mark *m);
void gauge_set_reading(struct rcl_gauge *g, const struct gauge_mark *m,
		       uint64_t usage);

/* Reserve size more bytes (or fewer: negative) about to be taken. */
void gauge_reserve(struct rcl_gauge *g, int64_t size);
/* Reserved bytes were taken: as a large block (mapped), or as other memory
 * (taken), or not at all (neither). */
void gauge_reserved_done(struct rcl_gauge *g, uint64_t size, bool mapped,
			 bool taken);
/* Other memory was taken without a reservation (a heap's 64 KiB batch). */
void gauge_took(struct rcl_gauge *g, uint64_t size);
/* Unmap a block of size bytes at p and count it out, under the lock: a
 * reading then sees it in usage and in the blocks, or in neither. */
void gauge_block_unmap(struct rcl_gauge *g, void *p, uint64_t size);

/* Tell the watchdog to look now (an allocation was refused). */
void gauge_wake(struct rcl_gauge *g);

/* Attach heap h to g, whose reference it takes (admit.c); NULL detaches. */
void heap_set_gauge(rcl_heap *h, struct rcl_gauge *g);

#pragma GCC visibility pop

#endif
