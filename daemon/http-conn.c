/*
 * Each worker's HTTP connections, for two limits.
 *
 * http.request_timeout: a request must arrive whole (line, headers, body)
 * within this time of its first byte, or its connection is shut down. It is
 * what stops a client that trickles its headers a byte at a time, which the
 * idle timeout (no byte for idle_timeout) does not.
 *
 * evhttp (libevent 2.1) has no hook for a new connection nor for its end,
 * so: the bufferevent callback (evhttp_set_bevcb) creates each connection's
 * bufferevent and keeps a reference to it; a callback on its input buffer
 * arms the deadline when bytes arrive and none is armed; the dispatch of the
 * request disarms it (found by file descriptor) and asks for evhttp's close
 * callback, which releases our state. A connection that ends before any
 * request is dispatched is noticed by the worker's tick (evhttp cleared its
 * callbacks when it let go). Expiry shuts the socket down; evhttp then sees
 * the error and frees the connection its own way.
 *
 * The same close callback cancels the request task still answering the
 * connection (http_task_cancel): evhttp calls it on the worker's own
 * thread, as it frees the connection, whether it noticed the failure or
 * http-task.c's request_hangup saw the client leave and closed it. A
 * connection we do not track (out of memory) gets
 * a close callback for that alone, so every request task is covered.
 *
 * http.max_connections (each worker has its share, http.c): at the cap, a
 * new connection closes the longest-idle one (no byte read since the
 * others') that has no request in progress, as the control socket does;
 * if every one is busy, the new one is closed instead. Either is shut down
 * as an expired one is, and no longer counted. Its descriptor is freed only
 * once evhttp has seen the shutdown, at a later turn of the loop, and libevent
 * accepts every queued connection in one go: with HCONN_EVICTING connections
 * being closed, the worker stops accepting until half of them are gone, or
 * a burst of new connections would take every descriptor before any was
 * given back. The connections evhttp makes without us (out of memory) are
 * not counted.
 *
 * Out of memory for our state of a connection, that one connection goes
 * without a deadline (evhttp makes its own bufferevent) and is closed after
 * its first reply; out of memory indexing it by file descriptor, it is found
 * by a walk of the list instead. The others carry on.
 *
 * In flight: a reply counts until evhttp says it was written (http.c's
 * completion callback). When a connection fails while a reply is being
 * written (the peer left, or evhttp's buffers ran out of memory), evhttp
 * frees the request without that callback; each connection counts the
 * replies it is writing, and those still counted when it goes are taken
 * off the worker's in-flight count then, or a drain would wait for them.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <stdlib.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "http-frame.h"
#include "reclaimd.h"
#include "xmalloc.h"

/* Connections a worker may have shut down to make room, not yet freed;
 * and how soon to look again while it has stopped accepting for them. */
#define HCONN_EVICTING 16
#define HCONN_EVICTING_CHECK_US 1000

struct hconn {
	struct http_conns *set;
	struct bufferevent *bev; /* our reference */
	struct http_frame *frame; /* its requests' framing (http-frame.c) */
	struct evbuffer_cb_entry *cbe;
	struct event *deadline;
	int fd; /* -1 until known */
	bool closecb;
	bool evicted;	   /* shut down to make room: not counted */
	unsigned requests; /* dispatched, their replies not yet written */
	unsigned replies;  /* replies being written: not yet complete */
	uint64_t last_active; /* mono_us of its last byte read, or reply */
	TAILQ_ENTRY(hconn) entry;
};

TAILQ_HEAD(hconn_list, hconn);

struct http_conns {
	struct worker *w;
	struct timeval timeout;
	bool timed; /* http.request_timeout is on */
	size_t n;   /* connections counted against max */
	size_t max; /* this worker's share of http.max_connections */
	size_t evicting; /* shut down to make room, not yet freed */
	bool held;	 /* not accepting until evicting goes down */
	struct event *release; /* looks again while held */
	struct event *sweep;
	struct hconn_list all;
	struct hconn **by_fd;
	size_t nfd;
};

/* Forget c: its deadline, its place, our reference to its bufferevent. */
static void hconn_free(struct hconn *c)
{
	struct http_conns *set = c->set;

	if (c->fd >= 0 && (size_t)c->fd < set->nfd && set->by_fd[c->fd] == c)
		set->by_fd[c->fd] = NULL;
	worker_inflight_end(set->w, c->replies); /* evhttp dropped them */
	if (!c->evicted)
		set->n--;
	else
		set->evicting--;
	TAILQ_REMOVE(&set->all, c, entry);
	evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->cbe);
	http_frame_free(c->frame);
	event_free(c->deadline);
	bufferevent_decref(c->bev);
	free(c);
}

/* Index c by its file descriptor, now that evhttp has set it; out of
 * memory, it is left out (hconn_of walks the list). */
static void hconn_index(struct hconn *c)
{
	struct http_conns *set = c->set;
	struct hconn **by_fd;
	size_t n;

	c->fd = bufferevent_getfd(c->bev);
	if (c->fd < 0)
		return;
	if ((size_t)c->fd >= set->nfd) {
		n = (size_t)c->fd * 2 + 64;
		by_fd = realloc(set->by_fd, n * sizeof *set->by_fd);
		if (by_fd == NULL) {
			log_worker(LOG_DEBUG, set->w->id,
				   "worker %d: out of memory indexing a "
				   "connection",
				   set->w->id);
			return;
		}
		set->by_fd = by_fd;
		while (set->nfd < n)
			set->by_fd[set->nfd++] = NULL;
	}
	set->by_fd[c->fd] = c;
}

/* The input changed. Bytes read are framed (http-frame.c: evhttp sees only
 * requests of certain length), and start the request's deadline unless it
 * runs already. */
static void hconn_input(struct evbuffer *buf,
			const struct evbuffer_cb_info *info, void *arg)
{
	struct hconn *c = arg;

	http_frame_input(c->frame, buf, info);
	if (info->n_added == 0)
		return;
	c->last_active = mono_us();
	if (!c->set->timed || evtimer_pending(c->deadline, NULL))
		return;
	if (c->fd < 0)
		hconn_index(c);
	evtimer_add(c->deadline, &c->set->timeout);
}

/* Too slow: shut the socket down; evhttp frees the connection. */
static void hconn_expire(evutil_socket_t fd, short what, void *arg)
{
	struct hconn *c = arg;
	int sock = bufferevent_getfd(c->bev);

	if (!c->evicted)
		log_worker(LOG_DEBUG, c->set->w->id,
			   "worker %d: a request took longer than "
			   "http.request_timeout: closed",
			   c->set->w->id);
	if (sock >= 0)
		shutdown(sock, SHUT_RDWR);
}

/* evhttp closes the connection: cancel the tasks still answering it,
 * then let go of it. */
static void hconn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct hconn *c = arg;

	http_task_cancel(c->set->w, evcon);
	hconn_free(c);
}

/* evhttp closes a connection we do not track (out of memory): cancel the
 * tasks still answering it. */
static void untracked_closed(struct evhttp_connection *evcon, void *arg)
{
	struct worker *w = arg;

	http_task_cancel(w, evcon);
}

/* The worker's listener, or NULL once it stopped accepting. */
static struct evconnlistener *http_conns_listener(struct http_conns *set)
{
	struct worker *w = set->w;

	return w->bound ? evhttp_bound_socket_get_listener(w->bound) : NULL;
}

/* Too many connections being closed: stop accepting until they are. */
static void http_conns_hold(struct http_conns *set)
{
	static const struct timeval soon = {0, HCONN_EVICTING_CHECK_US};
	struct evconnlistener *lev = http_conns_listener(set);

	if (set->held || set->evicting < HCONN_EVICTING || lev == NULL)
		return;
	evconnlistener_disable(lev);
	set->held = true;
	evtimer_add(set->release, &soon);
}

static void http_conns_sweep(evutil_socket_t fd, short what, void *arg);

/* While held: forget the connections evhttp freed; accept again once half
 * of those being closed are gone. */
static void http_conns_release(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval soon = {0, HCONN_EVICTING_CHECK_US};
	struct http_conns *set = arg;
	struct evconnlistener *lev = http_conns_listener(set);

	http_conns_sweep(fd, what, set);
	if (set->evicting > HCONN_EVICTING / 2 && lev != NULL) {
		evtimer_add(set->release, &soon);
		return;
	}
	set->held = false;
	if (lev != NULL)
		evconnlistener_enable(lev);
}

/* Shut c down to make room: evhttp sees the end and frees it. */
static void hconn_evict(struct hconn *c)
{
	int sock = bufferevent_getfd(c->bev);

	c->evicted = true;
	c->set->n--;
	c->set->evicting++;
	evtimer_del(c->deadline);
	if (sock >= 0)
		shutdown(sock, SHUT_RDWR);
}

/* Count the new connection c against the cap: at it, evict the longest
 * idle with no request in progress; none, c itself is shut down, once
 * evhttp has given it its socket (at the next turn of the loop). */
static void hconn_admit(struct http_conns *set, struct hconn *c)
{
	static const struct timeval now = {0, 0};
	struct hconn *o, *idlest = NULL;

	if (set->n >= set->max) {
		TAILQ_FOREACH(o, &set->all, entry)
		{
			if (!o->evicted && o->requests == 0 &&
			    o->replies == 0 &&
			    (idlest == NULL ||
			     o->last_active < idlest->last_active))
				idlest = o;
		}
		log_worker(LOG_DEBUG, set->w->id,
			   "worker %d: %zu HTTP connections "
			   "(http.max_connections): closing %s",
			   set->w->id, set->n,
			   idlest ? "the longest idle" : "the new one");
		if (idlest == NULL) {
			c->evicted = true;
			set->evicting++;
			evtimer_add(c->deadline, &now);
			http_conns_hold(set);
			return;
		}
		hconn_evict(idlest);
		http_conns_hold(set);
	}
	set->n++;
}

/* The connection's bufferevent for evhttp, its request framing
 * (http-frame.c) and our callback on its input. 0, or -1 if out of
 * memory. The limits come from the worker's copy: srv->cfg belongs to
 * the main thread, which replaces it on reload. */
static int hconn_bufferevent(struct hconn *c, struct event_base *base)
{
	const struct http_conf *hc = &c->set->w->httpconf;

	c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	c->frame = http_frame_new(c->set->w->id,
				  (size_t)(2 * (hc->max_request_line +
						hc->max_header_bytes)),
				  hc->max_body_bytes);
	if (c->bev == NULL || c->frame == NULL)
		return -1;
	c->cbe = evbuffer_add_cb(bufferevent_get_input(c->bev), hconn_input, c);
	return c->cbe != NULL ? 0 : -1;
}

/* evhttp's bufferevent callback: a new connection's bufferevent; NULL
 * (evhttp makes its own, untracked and unframed: its request is refused)
 * if out of memory. */
static struct bufferevent *hconn_new(struct event_base *base, void *arg)
{
	struct http_conns *set = arg;
	struct hconn *c = calloc(1, sizeof *c);

	if (c != NULL) {
		c->set = set;
		c->deadline = evtimer_new(base, hconn_expire, c);
	}
	if (c == NULL || c->deadline == NULL ||
	    hconn_bufferevent(c, base) != 0) {
		log_worker(LOG_WARNING, set->w->id,
			   "worker %d: out of memory: an HTTP connection "
			   "refused",
			   set->w->id);
		if (c != NULL && c->deadline != NULL)
			event_free(c->deadline);
		if (c != NULL && c->bev != NULL)
			bufferevent_free(c->bev);
		if (c != NULL)
			http_frame_free(c->frame);
		free(c);
		return NULL;
	}
	bufferevent_incref(c->bev);
	c->fd = -1;
	c->last_active = mono_us();
	hconn_admit(set, c);
	TAILQ_INSERT_TAIL(&set->all, c, entry);
	return c->bev;
}

/* Our state of req's connection, or NULL (none, or not tracked): by file
 * descriptor, else (it could not be indexed) by a walk of the list. */
static struct hconn *hconn_of(struct http_conns *set,
			      struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev;
	struct hconn *c;
	int fd;

	if (set == NULL || evcon == NULL)
		return NULL;
	bev = evhttp_connection_get_bufferevent(evcon);
	fd = bufferevent_getfd(bev);
	if (fd >= 0 && (size_t)fd < set->nfd && set->by_fd[fd] != NULL &&
	    set->by_fd[fd]->bev == bev)
		return set->by_fd[fd];
	TAILQ_FOREACH(c, &set->all, entry)
	{
		if (c->bev == bev)
			return c;
	}
	return NULL;
}

/* A reply to req is handed to evhttp. */
void http_conns_replying(struct http_conns *set, struct evhttp_request *req)
{
	struct hconn *c = hconn_of(set, req);

	if (c != NULL)
		c->replies++;
}

/* evhttp wrote a reply to req. */
void http_conns_completed(struct http_conns *set, struct evhttp_request *req)
{
	struct hconn *c = hconn_of(set, req);

	if (c == NULL)
		return;
	if (c->replies > 0)
		c->replies--;
	if (c->requests > 0)
		c->requests--;
	c->last_active = mono_us();
}

/* A request was dispatched: its deadline is met, and its connection's
 * close callback is set, which cancels its task if the client leaves first.
 * False for a connection we do not track (hconn_new ran out of memory): its
 * request was not framed (http-frame.c), so it must be refused, and the
 * connection closed after that reply. */
bool http_conns_dispatched(struct worker *w, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct http_conns *set = w->conns;
	struct hconn *c;

	if (evcon == NULL)
		return true;
	if (set == NULL || (c = hconn_of(set, req)) == NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Connection", "close");
		evhttp_connection_set_closecb(evcon, untracked_closed, w);
		return false;
	}
	c->requests++;
	if (!c->evicted)
		evtimer_del(c->deadline);
	if (!c->closecb)
		evhttp_connection_set_closecb(evcon, hconn_closed, c);
	c->closecb = true;
	return true;
}

/* Every 100 ms: forget connections evhttp let go of without telling. */
static void http_conns_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct http_conns *set = arg;
	struct hconn *c, *next;
	bufferevent_data_cb rd, wr;
	bufferevent_event_cb ev;

	for (c = TAILQ_FIRST(&set->all); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		/* bufferevent_free clears all three; evhttp clears the read
		 * callback alone while it writes a reply. */
		bufferevent_getcb(c->bev, &rd, &wr, &ev, NULL);
		if (rd == NULL && wr == NULL && ev == NULL)
			hconn_free(c);
	}
}

/* Track w's connections: at most max, each request within timeout_us of
 * its first byte (0: no limit). */
struct http_conns *http_conns_create(struct worker *w, uint64_t timeout_us,
				     size_t max)
{
	static const struct timeval sweep_every = {0, 100000};
	struct http_conns *set;

	set = xcalloc(1, sizeof *set); /* start-up */
	set->w = w;
	set->timed = timeout_us != 0;
	set->max = max;
	set->timeout.tv_sec = (time_t)(timeout_us / 1000000);
	set->timeout.tv_usec = (suseconds_t)(timeout_us % 1000000);
	TAILQ_INIT(&set->all);
	set->sweep = event_new(w->base, -1, EV_PERSIST, http_conns_sweep, set);
	event_add(set->sweep, &sweep_every);
	set->release = evtimer_new(w->base, http_conns_release, set);
	evhttp_set_bevcb(w->http, hconn_new, set);
	return set;
}

/* Free the tracking (after evhttp_free: every connection is gone). */
void http_conns_destroy(struct http_conns *set)
{
	if (set == NULL)
		return;
	event_free(set->sweep);
	event_free(set->release);
	while (!TAILQ_EMPTY(&set->all))
		hconn_free(TAILQ_FIRST(&set->all));
	free(set->by_fd);
	free(set);
}
