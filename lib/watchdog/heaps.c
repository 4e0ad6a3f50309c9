/*
 * Hooks for heaps the watchdog's own thread owns (a single-threaded program,
 * a test). A daemon with worker heaps wires its own hooks that message the
 * workers instead, since a heap is never touched by two threads.
 */
#include <malloc.h>
#include <string.h>

#include "watchdog-internal.h"

/* Collect generations 0..gen on every heap. */
static int heaps_collect(void *arg, int gen, int reason)
{
	rcl_watchdog_heaps *hs = arg;
	size_t i;

	for (i = 0; i < hs->n; i++)
		rcl_collect(hs->heaps[i], gen);
	return 0;
}

/* Trim the heaps (spare pool pages, vector capacity), then the allocator. */
static size_t heaps_trim(void *arg)
{
	rcl_watchdog_heaps *hs = arg;
	size_t i;

	for (i = 0; i < hs->n; i++)
		rcl_heap_trim(hs->heaps[i]);
	return rcl_watchdog_trim();
}

/* Set every heap's young byte trigger. */
static void heaps_pace(void *arg, size_t young_bytes)
{
	rcl_watchdog_heaps *hs = arg;
	size_t i;

	for (i = 0; i < hs->n; i++)
		rcl_set_young_bytes(hs->heaps[i], young_bytes);
}

/* Sum the heaps' figures. */
static bool heaps_info(void *arg, rcl_watchdog_heap_info *out)
{
	rcl_watchdog_heaps *hs = arg;
	rcl_stats st;
	size_t i;

	memset(out, 0, sizeof *out);
	out->incremental = hs->n > 0;
	for (i = 0; i < hs->n; i++) {
		rcl_heap_stats(hs->heaps[i], &st);
		out->incremental = out->incremental && st.incremental;
		out->objects += st.objects;
		out->bytes += st.bytes;
		out->full_collections +=
		    st.gen[RCL_GENERATIONS - 1].collections;
		out->survivor_objects +=
		    st.gen[RCL_GENERATIONS - 1].objects + st.frozen_objects;
		out->survivor_bytes += st.full_bytes_floor;
		out->gc_ns += st.pause_total_ns;
	}
	return hs->n > 0;
}

/* Add one heap's census (in hs->scratch) into out[0..*n). */
static void merge_census(rcl_type_stats *out, size_t *n, size_t max,
			 const rcl_type_stats *in, size_t k)
{
	size_t i, j;

	for (i = 0; i < k; i++) {
		for (j = 0; j < *n && out[j].type != in[i].type; j++)
			;
		if (j == *n) {
			if (*n == max)
				continue;
			out[(*n)++] = in[i];
			continue;
		}
		out[j].objects += in[i].objects;
		out[j].bytes += in[i].bytes;
	}
}

/* Live objects per type, summed over the heaps, into out. */
static size_t live_census(rcl_watchdog_heaps *hs, rcl_type_stats *out,
			  size_t max)
{
	size_t i, k, n = 0;

	for (i = 0; i < hs->n; i++) {
		k = rcl_heap_census(hs->heaps[i], hs->scratch,
				    RCL_WATCHDOG_CENSUS_MAX);
		if (k > RCL_WATCHDOG_CENSUS_MAX)
			k = RCL_WATCHDOG_CENSUS_MAX;
		merge_census(out, &n, max, hs->scratch, k);
	}
	return n;
}

/* After each full collection: take the census of the survivors. */
static void heaps_collected(rcl_heap *h, int gen, size_t found, void *arg)
{
	rcl_watchdog_heaps *hs = arg;

	(void)h;
	(void)found;
	if (gen != RCL_GENERATIONS - 1)
		return;
	hs->nfull = live_census(hs, hs->full, RCL_WATCHDOG_CENSUS_MAX);
	hs->have_full = true;
}

/* Survivors per type at the last full collection (live ones before any). */
static size_t heaps_census(void *arg, rcl_type_stats *out, size_t max)
{
	rcl_watchdog_heaps *hs = arg;
	size_t n;

	if (!hs->have_full)
		return live_census(hs, out, max);
	n = hs->nfull < max ? hs->nfull : max;
	memcpy(out, hs->full, n * sizeof(*out));
	return n;
}

/* Wire hooks to the heaps in hs. */
void rcl_watchdog_hooks_heaps(rcl_watchdog_hooks *hooks, rcl_watchdog_heaps *hs)
{
	memset(hooks, 0, sizeof *hooks);
	hooks->collect = heaps_collect;
	hooks->trim = heaps_trim;
	hooks->pace = heaps_pace;
	hooks->heap_info = heaps_info;
	hooks->census = heaps_census;
	hooks->arg = hs;
	hs->have_full = false;
	for (size_t i = 0; i < hs->n; i++)
		rcl_set_collect_hook(hs->heaps[i], heaps_collected, hs);
}

/* malloc_trim(0), returning the fall in RSS it caused. */
size_t rcl_watchdog_trim(void)
{
	uint64_t before = wd_read_rss(), after;

	malloc_trim(0);
	after = wd_read_rss();
	return before > after ? (size_t)(before - after) : 0;
}
