/*
 * systemd in one place: every sd_notify goes through notify_send, and the
 * keep-alive (WATCHDOG=1) is sent only while every worker's loop answers a
 * ping through its mailbox, so a stuck worker stops it and systemd restarts
 * the service.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#if HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "human.h"
#include "reclaimd.h"

/* Send one state change to the service manager; no-op without one. */
void notify_send(const char *fmt, ...)
{
#if HAVE_LIBSYSTEMD
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	sd_notify(0, buf);
#else
	(void)fmt;
#endif
}

/* STATUS=: RSS against the limit, level, collections, in one line. */
void notify_status(struct server *srv)
{
	struct stats_snapshot s;
	char rss[HUMAN_LEN], limit[HUMAN_LEN];

	if (server_stats(srv, &s) != 0)
		return; /* out of memory: the last STATUS= stands */
	notify_send("STATUS=rss %s of %s (%llu%%), level %s, %llu collections, "
		    "%zu workers",
		    human_bytes(s.process.process_rss_bytes, rss),
		    human_bytes(s.process.limit_bytes, limit),
		    (unsigned long long)(s.process.limit_bytes
					     ? s.process.process_rss_bytes *
						   100 / s.process.limit_bytes
					     : 0),
		    s.process.watchdog_level,
		    (unsigned long long)s.total.heap_collections_total,
		    s.nworkers);
	stats_finish(&s);
}

/* Whether every worker answered the last ping; names the first that did not. */
static bool notify_workers_alive(struct server *srv)
{
	size_t i;

	for (i = 0; i < srv->nworkers; i++) {
		if (!worker_answered(srv->workers[i], srv->ping_seq)) {
			log_worker(LOG_WARNING, (int)i,
				   "worker %zu does not answer: withholding "
				   "the watchdog keep-alive",
				   i);
			return false;
		}
	}
	return true;
}

/* Each half interval: keep-alive if all answered, then ping again. */
static void notify_keepalive(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	size_t i;

	if (notify_workers_alive(srv))
		notify_send("WATCHDOG=1");
	srv->ping_seq++;
	for (i = 0; i < srv->nworkers; i++)
		worker_ping(srv->workers[i], srv->ping_seq);
}

/* Arm the keep-alive timer if the service manager asked for one. */
int notify_keepalive_start(struct server *srv)
{
#if HAVE_LIBSYSTEMD
	uint64_t usec = 0;
	struct timeval tv;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	usec /= 2;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	srv->keepalive =
	    event_new(srv->base, -1, EV_PERSIST, notify_keepalive, srv);
	event_add(srv->keepalive, &tv);
	log_info("systemd watchdog: keep-alive every %llu ms",
		 (unsigned long long)(usec / 1000));
	notify_keepalive(-1, 0, srv);
#endif
	return 0;
}
