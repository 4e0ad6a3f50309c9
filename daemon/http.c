/*
 * The HTTP front: every worker accepts on the shared http.listen socket with
 * its own evhttp, on its own base. Routes are the request tasks of the task
 * registry (tasks.c: the built-ins of daemon/tasks/, then the plugins');
 * each request runs its task on this worker's heap (http-task.c) and counts
 * as in flight until its reply is sent, so a drain can wait for it.
 *
 * Each connection's bytes pass a framing check before evhttp parses them
 * (http-frame.c, under http-conn.c): evhttp 2.1 reads ambiguous request
 * lengths its own way, which allows request smuggling; those are refused
 * with 400, and chunked bodies arrive here decoded.
 *
 * Limits (http.*): evhttp enforces a backstop on the request line and headers
 * together (twice max_request_line + max_header_bytes; past it, evhttp itself
 * answers 400 and closes) and max_body_bytes (413); below the backstop this
 * file answers 414 for a long request line and 431 for large headers. A
 * client that breaks a limit gets its 4xx with "Connection: close" and loses
 * its connection; no other connection is affected. A connection that sends
 * nothing for idle_timeout is closed (evhttp's timeout), and one whose
 * request does not arrive whole within request_timeout of its first byte
 * (http-conn.c). At most http.max_connections are open, shared among the
 * workers (server.c fits it to the descriptor limit; http-conn.c evicts).
 * While the watchdog sheds, new requests get 503 with Retry-After; those
 * in flight finish. An accept that fails (out of descriptors) pauses this
 * worker's listener (listen.c's guard) rather than spin.
 *
 * A client that closes its connection before its reply is sent has its
 * request task cancelled at its yield point and the request dropped
 * unanswered, as nobody reads (http-task.c's request_hangup, and
 * http-conn.c's close callback for a connection evhttp closes itself).
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <reclaimd/task.h>

#include "reclaimd.h"
#include "xmalloc.h"

/* A reply was written out (or its connection failed): one less in flight. */
static void http_complete(struct evhttp_request *req, void *arg)
{
	struct worker *w = arg;

	http_conns_completed(w->conns, req);
	worker_inflight_end(w, 1);
}

/* The standard reason phrase, where evhttp's table lacks it. */
static const char *http_reason(int code)
{
	switch (code) {
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	default:
		return NULL; /* evhttp's */
	}
}

/* Send a reply: body, or text when body is NULL. The request is freed. */
void http_send(struct worker *w, struct evhttp_request *req, int code,
	       const char *text, struct evbuffer *body)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *tmp = NULL;

	if (!w->httpconf.keepalive &&
	    evhttp_find_header(out, "Connection") == NULL)
		evhttp_add_header(out, "Connection", "close");
	if (body == NULL) {
		tmp = evbuffer_new(); /* NULL: out of memory, an empty body */
		if (tmp != NULL && text != NULL)
			evbuffer_add(tmp, text, strlen(text));
		body = tmp;
	}
	if (evhttp_request_get_connection(req) == NULL)
		worker_inflight_end(w, 1); /* the client left: no completion */
	else
		http_conns_replying(w->conns, req);
	evhttp_send_reply(req, code, http_reason(code), body);
	if (tmp != NULL)
		evbuffer_free(tmp);
}

/* Refuse the request with a 4xx and close its connection. */
static void http_refuse(struct worker *w, struct evhttp_request *req, int code,
			const char *why)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	char text[128];

	evhttp_add_header(out, "Connection", "close");
	evhttp_add_header(out, "Content-Type", "text/plain");
	snprintf(text, sizeof text, "%s\n", why);
	http_send(w, req, code, text, NULL);
}

/* Bytes of the request's header lines ("Name: value\r\n"). */
static size_t http_header_bytes(struct evhttp_request *req)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evkeyval *h;
	size_t n = 0;

	TAILQ_FOREACH(h, in, next)
	{
		n += strlen(h->key) + strlen(h->value) + 4;
	}
	return n;
}

/* Whether the request breaks a limit (then it has been answered). */
static bool http_over_limits(struct worker *w, struct evhttp_request *req)
{
	const struct http_conf *hc = &w->httpconf;
	const char *uri = evhttp_request_get_uri(req);

	if (uri != NULL && strlen(uri) + 16 > hc->max_request_line) {
		http_refuse(w, req, 414, "URI Too Long");
		return true;
	}
	if (http_header_bytes(req) > hc->max_header_bytes) {
		http_refuse(w, req, 431, "Request Header Fields Too Large");
		return true;
	}
	return false;
}

/* Tell the client of a 503 for memory when to come back
 * (http.retry_after). */
void http_retry_after(struct worker *w, struct evhttp_request *req)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	char after[32];

	snprintf(after, sizeof after, "%llu",
		 (unsigned long long)w->httpconf.retry_after_s);
	evhttp_remove_header(out, "Retry-After");
	evhttp_add_header(out, "Retry-After", after);
}

/* While the watchdog sheds: 503 and when to come back. */
static void http_shed(struct worker *w, struct evhttp_request *req)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);

	w->stats.http_shed_total++;
	http_retry_after(w, req);
	evhttp_add_header(out, "Content-Type", "text/plain");
	http_send(w, req, HTTP_SERVUNAVAIL,
		  "Service Unavailable: memory is short, retry later\n", NULL);
}

/*
 * evhttp calls the request callback once more, with the URI freed, when a
 * connection fails (its buffers ran out of memory, a header it refuses) and
 * the request has not been freed: it wants a reply to let go. That is no new
 * request: not counted, and nothing to answer if a task still holds it (the
 * task's reply lets go) or if it was answered already (the reply sent again
 * completes in place of the first, which never will).
 */
static void http_failed(struct worker *w, struct evhttp_request *req)
{
	if (http_task_holds(w, req))
		return;
	evhttp_send_error(req, HTTP_BADREQUEST, NULL);
}

/* Every request: count it, check it, find its task, start it. */
static void http_dispatch(struct evhttp_request *req, void *arg)
{
	struct worker *w = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const struct rcl_task_def *def;
	bool framed;

	if (evhttp_request_get_uri(req) == NULL) {
		http_failed(w, req);
		return;
	}
	framed = http_conns_dispatched(w, req);
	worker_inflight_begin(w);
	evhttp_request_set_on_complete_cb(req, http_complete, w);
	w->stats.http_requests_total++;
	if (!framed) {
		http_retry_after(w, req);
		http_send(w, req, HTTP_SERVUNAVAIL, "out of memory\n", NULL);
		return;
	}
	if (http_over_limits(w, req))
		return;
	if (w->shedding) {
		http_shed(w, req);
		return;
	}
	def = path != NULL ? tasks_route(*path ? path : "/") : NULL;
	if (def == NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Content-Type", "text/plain");
		http_send(w, req, HTTP_NOTFOUND, "Not Found\n", NULL);
		return;
	}
	http_task_start(w, def, req);
}

/* Apply the http.* limits to w's evhttp. */
static void http_limits(struct worker *w)
{
	const struct config *cfg = w->srv->cfg;
	struct timeval tv = {
	    (time_t)(cfg->http_idle_timeout_us / 1000000),
	    (suseconds_t)(cfg->http_idle_timeout_us % 1000000)};

	evhttp_set_max_headers_size(
	    w->http, (ev_ssize_t)(2 * (cfg->http_max_request_line +
				       cfg->http_max_header_bytes)));
	evhttp_set_max_body_size(w->http, (ev_ssize_t)cfg->http_max_body_bytes);
	evhttp_set_timeout_tv(w->http, &tv);
	w->httpconf.max_request_line = cfg->http_max_request_line;
	w->httpconf.max_header_bytes = cfg->http_max_header_bytes;
	w->httpconf.max_body_bytes = cfg->http_max_body_bytes;
	w->httpconf.keepalive = cfg->http_keepalive;
	w->httpconf.retry_after_s =
	    (cfg->http_retry_after_us + 999999) / 1000000;
	if (w->httpconf.retry_after_s == 0)
		w->httpconf.retry_after_s = 1;
}

/* Serve HTTP on w's base from a copy of the shared listening socket. */
int http_start(struct worker *w, int fd, char **cause)
{
	int copy = dup(fd);
	char what[32];

	w->http = evhttp_new(w->base);
	if (w->http == NULL || copy < 0) {
		xasprintf(cause, "worker %d: cannot set up HTTP", w->id);
		if (copy >= 0)
			close(copy);
		return -1;
	}
	evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
						EVHTTP_REQ_POST);
	http_limits(w);
	w->conns = http_conns_create(w, w->srv->cfg->http_request_timeout_us,
				     w->srv->http_conns_max);
	evhttp_set_gencb(w->http, http_dispatch, w);
	w->bound = evhttp_accept_socket_with_handle(w->http, copy);
	if (w->bound == NULL) {
		close(copy);
		xasprintf(cause, "worker %d: cannot accept HTTP", w->id);
		return -1;
	}
	snprintf(what, sizeof what, "http (worker %d)", w->id);
	w->guard = listen_guard(evhttp_bound_socket_get_listener(w->bound),
				w->base, what);
	return 0;
}

/* Stop taking new connections; those open are served until drained. */
void http_stop_accepting(struct worker *w)
{
	listen_guard_free(w->guard);
	w->guard = NULL;
	if (w->http != NULL && w->bound != NULL)
		evhttp_del_accept_socket(w->http, w->bound);
	w->bound = NULL;
}

/* Close every connection and free the server. */
void http_free(struct worker *w)
{
	listen_guard_free(w->guard);
	w->guard = NULL;
	if (w->http != NULL)
		evhttp_free(w->http);
	w->http = NULL;
	w->bound = NULL;
	http_conns_destroy(w->conns); /* after: evhttp let go of them all */
	w->conns = NULL;
}
