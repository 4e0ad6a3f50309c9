/*
 * Admission: before the heap takes memory from the system (a pool page, a
 * large block, a malloc'd object or payload, caller-managed bytes counted
 * with rcl_owned_add()), it asks whether the memory fits, and makes room
 * first when it does not:
 *
 *   budget      a budget is set (rcl_heap_set_budget()) and this would take
 *               the heap's net growth past its limit: a full collection if
 *               anything was allocated since the last one, then refuse
 *   below soft  the gauge's estimate (gauge.h) plus what this heap took
 *               since the last reading stays under the watchdog's soft
 *               level: take it (the common case: three relaxed loads)
 *   past soft   read the kernel's figure now (at most every millisecond, or
 *               for each 64 KiB this heap takes), then pace as the watchdog
 *               would: collect when the bytes allocated since the last young
 *               collection pass the headroom to the hard level shared by the
 *               attached heaps (so count-only pacing is safe near the limit
 *               too), before the memory is taken
 *   past hard   a full collection if it can find anything, a trim (the
 *               heap's spare pages and cached blocks, then malloc_trim), a
 *               fresh reading; refuse if the memory still does not fit, and
 *               wake the watchdog, which collects every heap
 *
 * Refusing is the point: one request too large for what is left fails with
 * ENOMEM (reclaimd answers 503) instead of taking the process past its limit,
 * where the kernel would kill it. Nothing here runs while the heap collects
 * or frees (no collection can start then); admission then only refuses.
 * The fast path, an object from a page with room, never comes here.
 */
#include <errno.h>
#include <malloc.h>

#include "gauge.h"
#include "internal.h"

/* Past soft, a reading older than this is taken again. */
#define READ_EVERY_NS ((uint64_t)1000000)
/* ... and so is one older than this much memory taken by this heap. */
#define READ_EVERY_BYTES ((size_t)64 << 10)
/* Past hard, a full collection runs even with nothing allocated since the
 * last one when that one is this old (cycles can form among old objects). */
#define FULL_EVERY_NS ((uint64_t)100000000)
/* malloc_trim() walks every arena: at most this often, for all heaps. */
#define TRIM_EVERY_NS ((uint64_t)10000000)

/* Bytes the heap would take from the system for size more bytes. */
static size_t growth(const rcl_heap *h, int kind, size_t size)
{
	switch (kind) {
	case ADMIT_POOL:
		if (h->pool.partial[size_class(size)] || h->pool.spare)
			return 0;
		return POOL_PAGE;
	case ADMIT_TAKE:
		if (h->blocks.enabled && size >= BLOCK_MIN)
			return block_growth(h, size);
		return size;
	default:
		return size;
	}
}

/* Whether a collection may start here: not inside one, nor in a free. */
static bool can_collect(const rcl_heap *h)
{
	return !h->collecting && h->dealloc_depth == 0;
}

/* Whether a full collection can find anything new: something was
 * allocated since the last one, or it is old. */
static bool full_may_help(const rcl_heap *h)
{
	return h->st.allocations_total != h->allocs_at_full ||
	       h->owned_ops != h->owned_at_full ||
	       gauge_now_ns() - h->full_ns >= FULL_EVERY_NS;
}

/* A full collection for admission. */
static void collect_full(rcl_heap *h)
{
	gc_collect(h, RCL_GENERATIONS - 1, REASON_LIMIT);
	if (h->gauge != NULL)
		atomic_fetch_add(&h->gauge->collections, 1);
}

/* The budget's net bytes if size more were taken. */
static ptrdiff_t budget_after(const rcl_heap *h, size_t size)
{
	return h->budget->used + (ptrdiff_t)heap_total_bytes(h) -
	       (ptrdiff_t)h->budget_base + (ptrdiff_t)size;
}

/* Within the budget, after a full collection if that is what it takes. */
static bool budget_admit(rcl_heap *h, int kind, size_t size)
{
	size_t limit = h->budget->limit;

	if (limit == 0 || budget_after(h, size) <= (ptrdiff_t)limit)
		return true;
	if (can_collect(h) && full_may_help(h)) {
		collect_full(h);
		if (growth(h, kind, size) == 0 ||
		    budget_after(h, size) <= (ptrdiff_t)limit)
			return true;
	}
	h->budget->refused++;
	h->st.refused_budget_total++;
	return false;
}

/* Memory taken at once from this size on is reserved in the gauge before
 * it is compared; less is counted in batches of this size. */
#define BATCH ((size_t)64 << 10)

/* The estimate, with extra more bytes this heap has not reserved. A
 * reading since the heap last looked has seen what it took before. */
static uint64_t estimate(rcl_heap *h, size_t extra)
{
	uint64_t r = atomic_load_explicit(&h->gauge->readings,
					  memory_order_relaxed);

	if (r != h->seen_readings) {
		h->seen_readings = r;
		h->since_read = 0;
	}
	return gauge_estimate(h->gauge) + h->since_read + extra;
}

/* Give back this heap's reservation. */
void heap_unreserve(rcl_heap *h)
{
	if (h->reserved == 0)
		return;
	gauge_reserve(h->gauge, -(int64_t)h->reserved);
	h->reserved = 0;
}

/* bytes were taken from the system: the reservation for them becomes
 * memory taken, or they join this heap's batch for the gauge. */
void heap_account(rcl_heap *h, size_t bytes)
{
	struct rcl_gauge *g = h->gauge;

	if (g == NULL)
		return;
	if (h->reserved != 0) {
		gauge_reserved_done(g, h->reserved, false, true);
		h->reserved = 0;
		return;
	}
	estimate(h, 0); /* a reading since has seen the batch */
	h->since_read += bytes;
	if (h->since_read >= BATCH) {
		gauge_took(g, h->since_read);
		h->since_read = 0;
	}
}

/*
 * Whether grow more bytes fit under limit. From BATCH bytes on, they are
 * reserved first and compared with the reservations of every heap in:
 * kept when they fit (the caller takes the memory next, and
 * heap_account() or the block's mapping ends the reservation).
 */
static bool fits(rcl_heap *h, size_t grow, uint64_t limit)
{
	if (grow < BATCH)
		return estimate(h, grow) <= limit;
	gauge_reserve(h->gauge, (int64_t)grow);
	h->reserved = grow;
	if (estimate(h, 0) <= limit)
		return true;
	heap_unreserve(h);
	return false;
}

/* Whether the last reading is too old to act on past soft. */
static bool stale(const rcl_heap *h, size_t grow)
{
	uint64_t t = atomic_load_explicit(&h->gauge->read_ns,
					  memory_order_relaxed);

	return gauge_now_ns() - t >= READ_EVERY_NS ||
	       h->since_read >= READ_EVERY_BYTES || grow >= READ_EVERY_BYTES;
}

/*
 * Past soft: the young byte trigger the watchdog's pacing would set here
 * (headroom to hard, shared by the attached heaps and divided by the pacing
 * divisor, at least its minimum), applied now rather than at its next
 * sample; true if it collected.
 */
static bool pace(rcl_heap *h, uint64_t est, uint64_t hard, size_t size)
{
	struct rcl_gauge *g = h->gauge;
	uint64_t head = hard > est ? hard - est : 0;
	uint64_t heaps = atomic_load(&g->heaps);
	uint64_t div = atomic_load(&g->pace_divisor);
	uint64_t trigger, min = atomic_load(&g->pace_min);

	trigger = head / ((div ? div : 4) * (heaps ? heaps : 1));
	if (trigger < min)
		trigger = min;
	if (!gc_collect_paced(h, size, (size_t)trigger))
		return false;
	atomic_fetch_add(&g->collections, 1);
	return true;
}

/* Give back what the heap keeps, then what malloc keeps (rate-limited
 * across heaps: it locks and walks every arena). */
static void trim(rcl_heap *h)
{
	struct rcl_gauge *g = h->gauge;
	uint64_t t = gauge_now_ns(), last = atomic_load(&g->trim_ns);

	rcl_heap_trim(h);
	if (t - last >= TRIM_EVERY_NS &&
	    atomic_compare_exchange_strong(&g->trim_ns, &last, t))
		malloc_trim(0);
}

/* Past hard: collect, trim, look again; false to refuse. */
static bool hard_admit(rcl_heap *h, int kind, size_t size)
{
	struct rcl_gauge *g = h->gauge;
	size_t grow;
	uint64_t hard;

	if (can_collect(h) && full_may_help(h)) {
		collect_full(h);
		if (growth(h, kind, size) == 0)
			return true;
	}
	if (!h->collecting)
		trim(h);
	gauge_read(g);
	hard = atomic_load(&g->hard);
	grow = growth(h, kind, size);
	if (hard == 0 || grow == 0 || fits(h, grow, hard))
		return true;
	gauge_wake(g);
	return false;
}

/*
 * Within the watchdog's hard level, pacing past soft on the way. A
 * reservation is held only from the last comparison to the taking: never
 * across a collection (whose finalizers may allocate too).
 */
static bool limit_admit(rcl_heap *h, int kind, size_t size)
{
	struct rcl_gauge *g = h->gauge;
	uint64_t soft = atomic_load_explicit(&g->soft, memory_order_relaxed);
	uint64_t hard = atomic_load_explicit(&g->hard, memory_order_relaxed);
	size_t grow = growth(h, kind, size);

	if (hard == 0 || fits(h, grow, soft))
		return true;
	if (stale(h, grow) && gauge_read(g) && fits(h, grow, soft))
		return true;
	if (h->enabled && can_collect(h) &&
	    pace(h, estimate(h, grow), hard, size) &&
	    (grow = growth(h, kind, size)) == 0)
		return true;
	return fits(h, grow, hard) || hard_admit(h, kind, size);
}

/* Count a refusal; false. */
static bool refuse(rcl_heap *h, size_t size)
{
	if (h->gauge != NULL)
		heap_unreserve(h);
	h->refused = true;
	h->st.refused_total++;
	h->st.refused_bytes_total += size;
	if (h->gauge != NULL) {
		atomic_fetch_add(&h->gauge->refused, 1);
		atomic_fetch_add(&h->gauge->refused_bytes, size);
	}
	errno = ENOMEM;
	return false;
}

/* May the heap take memory for size more bytes of kind? See the top. */
bool heap_admit_slow(rcl_heap *h, int kind, size_t size)
{
	h->refused = false;
	if (growth(h, kind, size) == 0)
		return true;
	if (h->budget != NULL && !budget_admit(h, kind, size))
		return refuse(h, size);
	if (h->gauge != NULL && !limit_admit(h, kind, size))
		return refuse(h, size);
	return true;
}

/* Memory outside the pool for size bytes of an object or payload: a large
 * block or the allocator's, admitted first; NULL (ENOMEM) if refused or
 * short. */
void *heap_take(rcl_heap *h, size_t size)
{
	if (!heap_admit(h, ADMIT_TAKE, size))
		return NULL;
	if (h->blocks.enabled && size >= BLOCK_MIN)
		return block_alloc(h, size);
	return heap_raw_alloc(h, size);
}

/* Give back memory from heap_take() (size as taken). */
void heap_give(rcl_heap *h, void *p, size_t size)
{
	if (h->blocks.enabled && size >= BLOCK_MIN)
		block_free(h, p, size);
	else
		heap_raw_free(h, p, size);
}

/* Attach h to g (a reference the heap now owns), or detach (NULL): the
 * blocks h has mapped count in the gauge while it is attached. */
void heap_set_gauge(rcl_heap *h, struct rcl_gauge *g)
{
	struct rcl_gauge *old = h->gauge;

	if (old != NULL) {
		heap_unreserve(h);
		atomic_fetch_sub(&old->blocks, h->blocks.mapped_bytes);
		atomic_fetch_sub(&old->heaps, 1);
		gauge_unref(old);
	}
	h->gauge = g;
	if (g != NULL) {
		atomic_fetch_add(&g->blocks, h->blocks.mapped_bytes);
		atomic_fetch_add(&g->heaps, 1);
		h->seen_readings = atomic_load(&g->readings);
		h->since_read = 0;
		h->reserved = 0;
	}
	h->limited = h->gauge != NULL || h->budget != NULL;
}

/* Count h's growth against b from now. */
rcl_budget *rcl_heap_set_budget(rcl_heap *h, rcl_budget *b)
{
	rcl_budget *old;
	size_t now;

	if (h == NULL)
		return NULL;
	HEAP_CHECK_OWNER(h);
	old = h->budget;
	now = heap_total_bytes(h);
	if (old != NULL)
		old->used += (ptrdiff_t)now - (ptrdiff_t)h->budget_base;
	h->budget = b;
	h->budget_base = now;
	h->limited = h->gauge != NULL || h->budget != NULL;
	return old;
}

/* Allocations refused so far. */
uint64_t rcl_heap_refusals(const rcl_heap *h)
{
	return h != NULL ? h->st.refused_total : 0;
}

/* b's net bytes now. */
ptrdiff_t rcl_budget_used(const rcl_heap *h, const rcl_budget *b)
{
	if (b == NULL)
		return 0;
	if (h == NULL || h->budget != b)
		return b->used;
	return b->used + (ptrdiff_t)heap_total_bytes(h) -
	       (ptrdiff_t)h->budget_base;
}
