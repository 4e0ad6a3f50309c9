/*
 * The metrics listener on the main thread: GET /metrics answers the same
 * JSON as io.reclaim.Stats, or Prometheus text (?format=prometheus, or an
 * Accept: text/plain that does not also ask for JSON). Both are rendered
 * from one stats snapshot (common/stats.c, common/prom.c).
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prom.h"
#include "reclaimd.h"
#include "xmalloc.h"

struct metrics {
	struct server *srv;
	struct evhttp *http;
};

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
static void metrics_reply(struct evhttp_request *req, int code,
			  const char *reason, const char *type,
			  const char *body)
{
	struct evbuffer *buf = evbuffer_new();

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
		metrics_reply(req, HTTP_SERVUNAVAIL, "Service Unavailable",
			      "text/plain", "out of memory\n");
		return;
	}
	metrics_reply(req, HTTP_OK, "OK",
		      prom ? PROM_CONTENT_TYPE : "application/json", text);
	free(text);
}

/* Anything else. */
static void metrics_other(struct evhttp_request *req, void *arg)
{
	metrics_reply(req, HTTP_NOTFOUND, "Not Found", "text/plain",
		      "try /metrics\n");
}

/* Serve /metrics on the listening socket fd. */
struct metrics *metrics_create(struct server *srv, int fd, char **cause)
{
	struct metrics *m = xcalloc(1, sizeof *m);

	m->srv = srv;
	m->http = evhttp_new(srv->base);
	if (m->http == NULL ||
	    evhttp_accept_socket_with_handle(m->http, fd) == NULL) {
		*cause = xstrdup("metrics: cannot accept");
		metrics_destroy(m);
		return NULL;
	}
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
	if (m->http != NULL)
		evhttp_free(m->http);
	free(m);
}
