/*
 * The HTTP front: every worker accepts on the shared http.listen socket with
 * its own evhttp, on its own base. Routes are a table; issue 5's tasks add
 * rows. A request answered later (a task) counts as in flight until its
 * reply is sent, so a drain can wait for it.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <string.h>
#include <unistd.h>

#include "reclaimd.h"
#include "xmalloc.h"

struct http_route {
	const char *path;
	void (*handle)(struct worker *w, struct evhttp_request *req);
};

/* GET /: the smallest task there is. */
static void http_hello(struct worker *w, struct evhttp_request *req)
{
	struct evbuffer *body = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "text/plain");
	evbuffer_add_printf(body, "Hello, world");
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

static const struct http_route http_routes[] = {
    {"/", http_hello},
};

/* A reply was written out (or its connection failed): one less in flight. */
static void http_complete(struct evhttp_request *req, void *arg)
{
	struct worker *w = arg;

	w->inflight--;
}

/* Answer with a status and a one-line text body. */
static void http_error(struct evhttp_request *req, int code, const char *why)
{
	struct evbuffer *body = evbuffer_new();

	evbuffer_add_printf(body, "%s\n", why);
	evhttp_send_reply(req, code, why, body);
	evbuffer_free(body);
}

/* Every request: count it, find its route, answer. */
static void http_dispatch(struct evhttp_request *req, void *arg)
{
	struct worker *w = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	size_t i;

	w->inflight++;
	evhttp_request_set_on_complete_cb(req, http_complete, w);
	w->stats.http_requests_total++;
	if (w->shedding) {
		w->stats.http_shed_total++;
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Retry-After", "1");
		http_error(req, HTTP_SERVUNAVAIL, "Service Unavailable");
		return;
	}
	for (i = 0;
	     path != NULL && i < sizeof http_routes / sizeof *http_routes;
	     i++) {
		if (strcmp(path, http_routes[i].path) == 0) {
			http_routes[i].handle(w, req);
			return;
		}
	}
	http_error(req, HTTP_NOTFOUND, "Not Found");
}

/* Serve HTTP on w's base from a copy of the shared listening socket. */
int http_start(struct worker *w, int fd, char **cause)
{
	int copy = dup(fd);

	w->http = evhttp_new(w->base);
	if (w->http == NULL || copy < 0) {
		xasprintf(cause, "worker %d: cannot set up HTTP", w->id);
		if (copy >= 0)
			close(copy);
		return -1;
	}
	evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
						EVHTTP_REQ_POST);
	evhttp_set_timeout(w->http, 30);
	evhttp_set_gencb(w->http, http_dispatch, w);
	w->bound = evhttp_accept_socket_with_handle(w->http, copy);
	if (w->bound == NULL) {
		close(copy);
		xasprintf(cause, "worker %d: cannot accept HTTP", w->id);
		return -1;
	}
	return 0;
}

/* Stop taking new connections; those open are served until drained. */
void http_stop_accepting(struct worker *w)
{
	if (w->http != NULL && w->bound != NULL)
		evhttp_del_accept_socket(w->http, w->bound);
	w->bound = NULL;
}

/* Close every connection and free the server. */
void http_free(struct worker *w)
{
	if (w->http != NULL)
		evhttp_free(w->http);
	w->http = NULL;
	w->bound = NULL;
}
