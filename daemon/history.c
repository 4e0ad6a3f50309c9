/*
 * The history ring: one sample a second for the last ten minutes (RSS, the
 * limit, heap bytes, the watchdog level, collections), kept on the main
 * thread from the same stats snapshot the Stats method renders, and served
 * by Stats (history: seconds) for `reclaimctl top`.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reclaimd.h"
#include "xmalloc.h"

struct history_sample {
	uint64_t time_us; /* wall clock */
	uint64_t rss_bytes;
	uint64_t limit_bytes;
	uint64_t heap_bytes;
	uint64_t collections_total;
	char level[16];
};

struct history {
	struct server *srv;
	struct event *timer;
	size_t head; /* where the next sample goes */
	size_t n;
	struct history_sample ring[HISTORY_SECONDS];
};

/* Take one sample. */
static void history_tick(evutil_socket_t fd, short what, void *arg)
{
	struct history *h = arg;
	struct history_sample *hs = &h->ring[h->head];
	struct stats_snapshot s;

	if (server_stats(h->srv, &s) != 0)
		return; /* out of memory: no sample this second */
	hs->time_us = now_us();
	hs->rss_bytes = s.process.process_rss_bytes;
	hs->limit_bytes = s.process.limit_bytes;
	hs->heap_bytes = s.total.heap_bytes;
	hs->collections_total = s.total.heap_collections_total;
	snprintf(hs->level, sizeof hs->level, "%s", s.process.watchdog_level);
	stats_finish(&s);
	h->head = (h->head + 1) % HISTORY_SECONDS;
	if (h->n < HISTORY_SECONDS)
		h->n++;
}

/* Sample every second on the main base, starting now. */
struct history *history_create(struct server *srv)
{
	struct history *h = xcalloc(1, sizeof *h);
	struct timeval tv = {HISTORY_INTERVAL_US / 1000000,
			     HISTORY_INTERVAL_US % 1000000};

	h->srv = srv;
	h->timer = event_new(srv->base, -1, EV_PERSIST, history_tick, h);
	if (h->timer == NULL) {
		free(h);
		return NULL;
	}
	event_add(h->timer, &tv);
	return h;
}

/* Stop sampling and free; NULL is a no-op. */
void history_destroy(struct history *h)
{
	if (h == NULL)
		return;
	event_free(h->timer);
	free(h);
}

/* The i-th of the last n samples, oldest first. */
static const struct history_sample *history_at(const struct history *h,
					       size_t n, size_t i)
{
	return &h->ring[(h->head + HISTORY_SECONDS - n + i) % HISTORY_SECONDS];
}

#define HISTORY_COLUMN(h, n, parent, key, field)                               \
	do {                                                                   \
		struct json *col_ = json_add_array(parent, key);               \
		size_t i_;                                                     \
		for (i_ = 0; i_ < (n); i_++)                                   \
			json_add_u64(col_, NULL, history_at(h, n, i_)->field); \
	} while (0)

/* "history": {"interval_ms", "samples", one array a figure, oldest first},
 * with at most the last seconds samples. */
void history_to_json(const struct history *h, size_t seconds,
		     struct json *parent)
{
	struct json *o = json_add_object(parent, "history"), *lv;
	size_t n = h != NULL && seconds < h->n ? seconds : h ? h->n : 0, i;

	json_add_u64(o, "interval_ms", HISTORY_INTERVAL_US / 1000);
	json_add_u64(o, "samples", n);
	HISTORY_COLUMN(h, n, o, "time_us", time_us);
	HISTORY_COLUMN(h, n, o, "rss_bytes", rss_bytes);
	HISTORY_COLUMN(h, n, o, "limit_bytes", limit_bytes);
	HISTORY_COLUMN(h, n, o, "heap_bytes", heap_bytes);
	HISTORY_COLUMN(h, n, o, "collections_total", collections_total);
	lv = json_add_array(o, "level");
	for (i = 0; i < n; i++)
		json_add_str(lv, NULL, history_at(h, n, i)->level);
}
