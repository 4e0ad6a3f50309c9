/*
 * The metrics listener on the main thread: GET /metrics answers the same
 * JSON as io.reclaim.Stats, or Prometheus text (?format=prometheus, or an
 * Accept: text/plain that does not also ask for JSON). Both are rendered
 * from one stats snapshot (common/stats.c, common/prom.c).
 *
 * Deadline: a connection must send each request whole within
 * METRICS_REQUEST_US of its opening or of its last reply, or it is shut
 * down. evhttp's timeout alone counts from the last byte, so a client that
 * sent a byte every 5 s held its connection open for ever. evhttp 2.1 tells
 * nothing of a connection's start or end: as in http-conn.c, the
 * bufferevent callback makes each connection's bufferevent and keeps a
 * reference; a sweep every METRICS_SWEEP_US shuts down the late ones and
 * lets go of those evhttp freed (it cleared their callbacks). Out of memory
 * for that, a connection has evhttp's idle timeout alone.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "prom.h"
#include "reclaimd.h"
#include "xmalloc.h"

/* A request's deadline (see above), and how often it is checked. */
#define METRICS_REQUEST_US 10000000
#define METRICS_SWEEP_US 100000

/* A scraper's connection. */
struct mconn {
	struct bufferevent *bev; /* our reference */
	uint64_t since;		 /* mono_us: opened, or last answered */
	bool shut;		 /* past its deadline, shut down */
	TAILQ_ENTRY(mconn) entry;
};

struct metrics {
	struct server *srv;
	struct evhttp *http;
	struct listen_guard *guard; /* pauses accepting on errors */
	struct event *sweep;
	TAILQ_HEAD(, mconn) conns;
};

/* evhttp's bufferevent callback: a new connection, tracked; NULL (evhttp
 * makes its own, untracked) if out of memory. */
static struct bufferevent *mconn_new(struct event_base *base, void *arg)
{
	struct metrics *m = arg;
	struct mconn *c = calloc(1, sizeof *c);

	if (c != NULL)
		c->bev =
		    bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c == NULL || c->bev == NULL) {
		free(c);
		return NULL;
	}
	bufferevent_incref(c->bev);
	c->since = mono_us();
	TAILQ_INSERT_TAIL(&m->conns, c, entry);
	return c->bev;
}

/* Let go of c. */
static void mconn_free(struct metrics *m, struct mconn *c)
{
	TAILQ_REMOVE(&m->conns, c, entry);
	bufferevent_decref(c->bev);
	free(c);
}

/* The request on req's connection was answered: its deadline starts
 * again. */
static void mconn_answered(struct metrics *m, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev;
	struct mconn *c;

	if (m == NULL || evcon == NULL)
		return;
	bev = evhttp_connection_get_bufferevent(evcon);
	TAILQ_FOREACH(c, &m->conns, entry)
	{
		if (c->bev == bev)
			c->since = mono_us();
	}
}

/* Every METRICS_SWEEP_US: forget the connections evhttp freed, shut down
 * those past their deadline (evhttp then frees them). */
static void metrics_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct metrics *m = arg;
	struct mconn *c, *next;
	bufferevent_data_cb rd, wr;
	bufferevent_event_cb ev;
	uint64_t now = mono_us();
	int sock;

	for (c = TAILQ_FIRST(&m->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		bufferevent_getcb(c->bev, &rd, &wr, &ev, NULL);
		if (rd == NULL && wr == NULL && ev == NULL) {
			mconn_free(m, c);
			continue;
		}
		if (c->shut || now - c->since < METRICS_REQUEST_US)
			continue;
		log_debug("metrics: a request took longer than %d s: closed",
			  METRICS_REQUEST_US / 1000000);
		c->shut = true;
		if ((sock = bufferevent_getfd(c->bev)) >= 0)
			shutdown(sock, SHUT_RDWR);
	}
}

/* Whether the scraper asked for Prometheus text. */
static bool metrics_wants_text(struct evhttp_request *req)
{
	const char *accept =
	    evhttp_find_header(evhttp_request_get_input_headers(req), "Accept");
	const char *query =
	    evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq args;
	const char *format;
	bool text;

	if (accept != NULL && strstr(accept, "text/plain") != NULL &&
	    strstr(accept, "application/json") == NULL)
		return true;
	if (query == NULL || evhttp_parse_query_str(query, &args) != 0)
		return false;
	format = evhttp_find_header(&args, "format");
	text = format != NULL && strcmp(format, "prometheus") == 0;
	evhttp_clear_headers(&args);
	return text;
}

/* Answer with a status and a body; out of memory, the body may be lost. */
static void metrics_reply(struct metrics *m, struct evhttp_request *req,
			  int code, const char *reason, const char *type,
			  const char *body)
{
	struct evbuffer *buf = evbuffer_new();

	mconn_answered(m, req);
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", type);
	if (buf != NULL)
		evbuffer_add(buf, body, strlen(body));
	evhttp_send_reply(req, code, reason, buf);
	if (buf != NULL)
		evbuffer_free(buf);
}

/* The Stats JSON: the snapshot plus the collector settings and the task cap
 * in force; NULL, or a tree json_print refuses, if out of memory. */
struct json *metrics_stats_json(struct server *srv)
{
	struct stats_snapshot s;
	struct json *j, *arr;
	int g;

	if (server_stats(srv, &s) != 0)
		return NULL;
	j = stats_to_json(&s);
	stats_finish(&s);
	arr = json_add_array(json_get(j, "heap"), "thresholds");
	for (g = 0; g < RCL_GENERATIONS; g++)
		json_add_u64(arr, NULL, srv->thresholds[g]);
	json_add_u64(json_get(j, "heap"), "young_bytes", srv->young_bytes);
	json_add_u64(json_get(j, "tasks"), "max_running",
		     srv->cfg->tasks_max_running);
	json_add_bool(json_add_object(j, "debug"), "leak", srv->debug_leak);
	return j;
}

/* GET /metrics. */
static void metrics_get(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	struct stats_snapshot s;
	struct json *j;
	char *text;

	bool prom = metrics_wants_text(req);

	if (prom) {
		text = NULL;
		if (server_stats(m->srv, &s) == 0)
			text = prom_render(&s);
		stats_finish(&s);
	} else {
		j = metrics_stats_json(m->srv);
		text = json_print(j, true);
		json_destroy(j);
	}
	if (text == NULL) {
		metrics_reply(m, req, HTTP_SERVUNAVAIL, "Service Unavailable",
			      "text/plain", "out of memory\n");
		return;
	}
	metrics_reply(m, req, HTTP_OK, "OK",
		      prom ? PROM_CONTENT_TYPE : "application/json", text);
	free(text);
}

/* Anything else. */
static void metrics_other(struct evhttp_request *req, void *arg)
{
	metrics_reply(arg, req, HTTP_NOTFOUND, "Not Found", "text/plain",
		      "try /metrics\n");
}

/* Serve /metrics on the listening socket fd. */
struct metrics *metrics_create(struct server *srv, int fd, char **cause)
{
	static const struct timeval sweep_every = {0, METRICS_SWEEP_US};
	struct metrics *m = xcalloc(1, sizeof *m);
	struct evhttp_bound_socket *bound = NULL;

	m->srv = srv;
	TAILQ_INIT(&m->conns);
	m->http = evhttp_new(srv->base);
	m->sweep = event_new(srv->base, -1, EV_PERSIST, metrics_sweep, m);
	if (m->http != NULL)
		bound = evhttp_accept_socket_with_handle(m->http, fd);
	if (bound == NULL || m->sweep == NULL) {
		*cause = xstrdup("metrics: cannot accept");
		metrics_destroy(m);
		return NULL;
	}
	m->guard = listen_guard(evhttp_bound_socket_get_listener(bound),
				srv->base, "metrics");
	event_add(m->sweep, &sweep_every);
	evhttp_set_bevcb(m->http, mconn_new, m);
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(m->http, 10);
	evhttp_set_cb(m->http, "/metrics", metrics_get, m);
	evhttp_set_gencb(m->http, metrics_other, m);
	return m;
}

/* Close the listener and its connections; NULL is a no-op. */
void metrics_destroy(struct metrics *m)
{
	if (m == NULL)
		return;
	listen_guard_free(m->guard);
	if (m->http != NULL)
		evhttp_free(m->http);
	while (!TAILQ_EMPTY(&m->conns)) /* evhttp let go of them all */
		mconn_free(m, TAILQ_FIRST(&m->conns));
	if (m->sweep != NULL)
		event_free(m->sweep);
	free(m);
}
