/* The gauge shared by the watchdog and its heaps: see gauge.h. */
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "gauge.h"

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t gauge_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A gauge with one reference, admission off; NULL if memory is short. */
struct rcl_gauge *gauge_create(void)
{
	struct rcl_gauge *g = calloc(1, sizeof *g);

	if (g == NULL)
		return NULL;
	if (pthread_mutex_init(&g->lock, NULL) != 0) {
		free(g);
		return NULL;
	}
	atomic_init(&g->refs, 1);
	g->wake_fd = -1;
	return g;
}

/* Take a reference. */
struct rcl_gauge *gauge_ref(struct rcl_gauge *g)
{
	atomic_fetch_add(&g->refs, 1);
	return g;
}

/* Drop a reference; the last frees it. */
void gauge_unref(struct rcl_gauge *g)
{
	if (g == NULL || atomic_fetch_sub(&g->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/* What was mapped and taken just before a reading. */
void gauge_mark(struct rcl_gauge *g, struct gauge_mark *m)
{
	m->blocks = atomic_load(&g->blocks);
	m->recent = atomic_load(&g->recent);
}

/*
 * A reading: usage now, the blocks and recent bytes noted just before it.
 * The blocks mapped and the memory taken until then are in usage: the
 * estimate counts from the mark on. What was taken between the mark and
 * the reading is counted twice until the next reading, and a reservation
 * whose memory is partly resident already counts whole: the estimate errs
 * high there, never low.
 */
void gauge_set_reading(struct rcl_gauge *g, const struct gauge_mark *m,
		       uint64_t usage)
{
	atomic_store(&g->base, (int_fast64_t)usage - (int_fast64_t)m->blocks);
	atomic_fetch_sub(&g->recent, m->recent);
	atomic_store(&g->read_ns, gauge_now_ns());
	atomic_fetch_add(&g->readings, 1);
}

/* Take a reading now, from any thread. */
bool gauge_read(struct rcl_gauge *g)
{
	struct gauge_mark m;
	uint64_t usage;
	bool ok = false;

	pthread_mutex_lock(&g->lock);
	if (g->read != NULL) {
		gauge_mark(g, &m);
		if (g->read(g->read_ctx, &usage) == 0) {
			gauge_set_reading(g, &m, usage);
			atomic_fetch_add(&g->heap_readings, 1);
			ok = true;
		}
	}
	pthread_mutex_unlock(&g->lock);
	return ok;
}

/* Reserve size bytes (negative: give a reservation back). */
void gauge_reserve(struct rcl_gauge *g, int64_t size)
{
	if (size >= 0)
		atomic_fetch_add(&g->inflight, (uint64_t)size);
	else
		atomic_fetch_sub(&g->inflight, (uint64_t)-size);
}

/* A reservation of size bytes ended: mapped as a block, taken as other
 * memory, or not taken. Counted where it now is before it leaves inflight,
 * so the estimate never dips meanwhile. */
void gauge_reserved_done(struct rcl_gauge *g, uint64_t size, bool mapped,
			 bool taken)
{
	if (mapped)
		atomic_fetch_add(&g->blocks, size);
	else if (taken)
		atomic_fetch_add(&g->recent, size);
	atomic_fetch_sub(&g->inflight, size);
}

/* size bytes of other memory were taken without a reservation. */
void gauge_took(struct rcl_gauge *g, uint64_t size)
{
	atomic_fetch_add(&g->recent, size);
}

/*
 * Unmap a block and count it out, together. Without the lock a reading
 * could note the blocks with this one and read a usage without it: the
 * estimate would then be low by the block until the next reading, the one
 * error admission must not make. Mapping needs no lock: its bytes are
 * reserved before they are taken and counted as a block before the
 * reservation ends, so the estimate only ever errs high there.
 */
void gauge_block_unmap(struct rcl_gauge *g, void *p, uint64_t size)
{
	pthread_mutex_lock(&g->lock);
	munmap(p, size);
	atomic_fetch_sub(&g->blocks, size);
	pthread_mutex_unlock(&g->lock);
}

/* Wake the watchdog: an eventfd write, from any thread. Under the lock,
 * which the watchdog holds to close the descriptor. */
void gauge_wake(struct rcl_gauge *g)
{
	uint64_t one = 1;

	atomic_fetch_add(&g->wakes, 1);
	pthread_mutex_lock(&g->lock);
	if (g->wake_fd >= 0 && write(g->wake_fd, &one, sizeof one) < 0) {
		/* EAGAIN: the counter is full, the watchdog is waking already */
	}
	pthread_mutex_unlock(&g->lock);
}
