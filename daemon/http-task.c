/*
 * Request tasks: the HTTP front's side of running a task for a request.
 * http_task_start turns the request into a runner's arguments (its query
 * string) and starts it (runner.c), as the runner's owner: the runner asks
 * here for the request's path, method, headers and body, and calls back when
 * it finishes, to have its reply sent.
 *
 * A client that leaves: evhttp reads nothing while it holds a request, so a
 * task that waits watches its connection (EV_CLOSED, request_hangup); when
 * the client goes, or evhttp closes the connection itself (http-conn.c's
 * close callback), each request task still answering that connection is
 * cancelled at its yield point (http_task_cancel) and its request dropped
 * unanswered, as nobody reads. TCP cannot tell a client that closed from one
 * that shut down only its sending side; as nginx (499) and Go's net/http do,
 * the end of the request stream counts as leaving.
 *
 * Each request task is on its worker's list (w->http_tasks) from its start
 * until its runner finishes; out of memory for one, the request is answered
 * 503 with Retry-After.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task-internal.h"

struct http_task {
	struct worker *w;
	struct rcl_runner *r;		 /* its runner (the live list's) */
	struct evhttp_request *req;	 /* NULL once answered or dropped */
	struct evhttp_connection *evcon; /* its connection, while watched */
	struct event *hangup;		 /* its client closing (EV_CLOSED) */
	TAILQ_ENTRY(http_task) entry;
};

/* The query string as an object of strings in *args (NULL: none); -1 if
 * out of memory. A query evhttp cannot parse counts as none. */
static int request_args(struct evhttp_request *req, struct json **args)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *q = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq kv;
	struct evkeyval *e;

	*args = NULL;
	if (q == NULL || *q == '\0')
		return 0; /* the common case: nothing to allocate */
	*args = json_object();
	TAILQ_INIT(&kv);
	if (*args != NULL && evhttp_parse_query_str(q, &kv) == 0) {
		TAILQ_FOREACH(e, &kv, next)
		{
			json_add_str(*args, e->key, e->value);
		}
	}
	evhttp_clear_headers(&kv);
	if (json_failed(*args)) {
		json_destroy(*args);
		*args = NULL;
		return -1;
	}
	return 0;
}

/* ht's client closed its connection (EV_CLOSED: it sent its FIN, or the
 * connection failed) while its task runs: cancel the task, and close the
 * connection, which evhttp does not notice while it holds a request. */
static void request_hangup(evutil_socket_t fd, short what, void *arg)
{
	struct http_task *ht = arg;
	struct evhttp_connection *evcon = ht->evcon;
	struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};

	if (poll(&pfd, 1, 0) != 1 ||
	    !(pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
		return; /* not gone after all: keep watching */
	http_task_cancel(ht->w, evcon); /* ht is freed */
	evhttp_connection_free(evcon);
}

/* Watch ht's connection for its client leaving, once its task waits. Out
 * of memory, it is not watched: the task runs to its end, its reply
 * dropped, as it always could. */
static void watch_hangup(struct http_task *ht)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(ht->evcon);
	int fd = bev != NULL ? bufferevent_getfd(bev) : -1;

	if (fd < 0)
		return;
	ht->hangup = event_new(ht->w->base, fd, EV_CLOSED | EV_PERSIST,
			       request_hangup, ht);
	if (ht->hangup != NULL && event_add(ht->hangup, NULL) != 0) {
		event_free(ht->hangup);
		ht->hangup = NULL;
	}
}

/* Stop watching ht's connection: its request is answered or dropped. */
static void unwatch_hangup(struct http_task *ht)
{
	if (ht->hangup != NULL)
		event_free(ht->hangup); /* from its own callback too: allowed */
	ht->hangup = NULL;
	ht->evcon = NULL;
}

/* Send the reply r made: its body, or its error. */
static void http_task_reply(struct http_task *ht, struct rcl_runner *r)
{
	struct evhttp_request *req = ht->req;
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct json *h;
	size_t len;
	char *text;

	ht->req = NULL;
	unwatch_hangup(ht);
	for (h = json_child(r->headers); h != NULL; h = json_next(h))
		evhttp_add_header(out, json_key(h), json_as_str(h));
	if (evhttp_find_header(out, "Content-Type") == NULL)
		evhttp_add_header(out, "Content-Type",
				  r->content_type[0]
				      ? r->content_type
				      : "text/html; charset=utf-8");
	if (r->error != NULL) {
		if (r->status < 400 || r->status > 599)
			r->status = 500;
		if (runner_out_of_memory(r))
			http_retry_after(ht->w, req);
		len = strlen(r->error) + 2;
		if ((text = malloc(len)) != NULL)
			snprintf(text, len, "%s\n", r->error);
		evhttp_remove_header(out, "Content-Type");
		evhttp_add_header(out, "Content-Type", "text/plain");
		if (text == NULL)
			http_send(ht->w, req, 503, "out of memory\n", NULL);
		else
			http_send(ht->w, req, r->status, text, NULL);
		free(text);
		return;
	}
	http_send(ht->w, req, r->status ? r->status : 200, NULL, r->body);
}

/* r finished: reply, unless its request was dropped; then forget ht. */
static void http_task_done(struct rcl_runner *r, void *ctx)
{
	struct http_task *ht = ctx;

	if (ht->req != NULL)
		http_task_reply(ht, r);
	TAILQ_REMOVE(&ht->w->http_tasks, ht, entry);
	free(ht);
}

/* The request, for task-api.c's rcl_runner_path and the like. */
static const char *http_task_path(void *ctx)
{
	struct http_task *ht = ctx;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ht->req);

	return uri != NULL ? evhttp_uri_get_path(uri) : NULL;
}

static const char *http_task_method(void *ctx)
{
	struct http_task *ht = ctx;

	switch (evhttp_request_get_command(ht->req)) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_POST:
		return "POST";
	default:
		return "?";
	}
}

static const char *http_task_header(void *ctx, const char *name)
{
	struct http_task *ht = ctx;

	return evhttp_find_header(evhttp_request_get_input_headers(ht->req),
				  name);
}

static const void *http_task_body(void *ctx, size_t *len)
{
	struct http_task *ht = ctx;
	struct evbuffer *in = evhttp_request_get_input_buffer(ht->req);

	*len = evbuffer_get_length(in);
	return *len ? evbuffer_pullup(in, -1) : NULL;
}

static const struct runner_owner http_task_owner = {
    .done = http_task_done,
    .path = http_task_path,
    .method = http_task_method,
    .header = http_task_header,
    .body = http_task_body,
};

/* Run def for req; the reply is sent when the task finishes. */
void http_task_start(struct worker *w, const struct rcl_task_def *def,
		     struct evhttp_request *req)
{
	struct http_task *ht = calloc(1, sizeof *ht);
	struct rcl_runner *r = NULL;
	struct json *args;

	if (ht != NULL && request_args(req, &args) == 0)
		r = runner_create(w->tasks, def, args);
	if (r == NULL) {
		free(ht);
		http_retry_after(w, req);
		http_send(w, req, 503, "out of memory\n", NULL);
		return;
	}
	ht->w = w;
	ht->r = r;
	ht->req = req;
	ht->evcon = evhttp_request_get_connection(req);
	TAILQ_INSERT_TAIL(&w->http_tasks, ht, entry);
	rcl_incref(r); /* runner_start takes one; r is ours after it */
	runner_start(r, &http_task_owner, ht);
	if (r->owner == &http_task_owner && ht->evcon != NULL)
		watch_hangup(ht); /* it waits: ht lives until it finishes */
	rcl_decref(r);
}

/* Whether a request task of w's still has req to answer. */
bool http_task_holds(struct worker *w, struct evhttp_request *req)
{
	struct http_task *ht;

	TAILQ_FOREACH(ht, &w->http_tasks, entry)
	{
		if (ht->req == req)
			return true;
	}
	return false;
}

/* Let go of ht's request unanswered: its connection is gone. A request
 * evhttp detached (its connection failed: EOF, error, timeout) is freed
 * only when answered, so it is ours to free; one still on the connection
 * is freed by evhttp with the connection (request_hangup frees it). Either
 * way no completion callback comes: it is no longer in flight. */
static void http_task_drop(struct http_task *ht)
{
	struct evhttp_request *req = ht->req;

	ht->req = NULL;
	unwatch_hangup(ht);
	if (evhttp_request_get_connection(req) == NULL)
		evhttp_request_free(req);
	worker_inflight_end(ht->w, 1);
}

/*
 * evcon is closing (evhttp's close callback, or request_hangup, both on the
 * worker's thread): cancel each request task still answering a request of
 * it at its yield point (runner_cancel, with the tasks it waits for),
 * counted as cancelled. The request is dropped first, so nothing is ever
 * written for it. Cancelling one changes the list: start over.
 */
void http_task_cancel(struct worker *w, struct evhttp_connection *evcon)
{
	struct http_task *ht;

	if (evcon == NULL)
		return;
again:
	TAILQ_FOREACH(ht, &w->http_tasks, entry)
	{
		if (ht->req == NULL || ht->evcon != evcon)
			continue;
		http_task_drop(ht);
		runner_abandon(ht->r, "cancelled: the client hung up");
		goto again;
	}
}
