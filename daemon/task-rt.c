/*
 * A worker's task runtime: starts request tasks for the HTTP front,
 * on-demand tasks for RunTask and periodic tasks on timers, and answers each
 * when its runner finishes. Out of memory once running: a request is
 * answered 503, RunTask io.reclaim.OutOfMemory (see task.c's runner_oom);
 * only task_rt_create, at start-up, may stop the daemon.
 *
 * Cancellation: when a RunTask caller hangs up, the main thread marks the
 * command (task_cancel_cmd) and has the worker look at once (WCMD_CANCEL,
 * task_rt_cancel); a runner also checks its mark before each step. Either
 * way the task stops at its yield point (runner_cancel), and the answer
 * still comes back, to be dropped, so the call is freed and its slot under
 * tasks.max_running released only once the task has really stopped.
 * When an HTTP client closes its connection before its reply, its request
 * task is cancelled the same way, on the worker's own thread, and the
 * request dropped unanswered (task_cancel_requests): evhttp reads nothing
 * while it holds a request, so a task that waits watches its connection
 * (EV_CLOSED, request_hangup), which then is closed; a connection evhttp
 * closes itself is seen by its close callback (http-conn.c).
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
#include "xmalloc.h"

/* A periodic timer fired: start the task unless its last run is going. */
static void periodic_fire(evutil_socket_t fd, short what, void *arg)
{
	struct periodic *p = arg;
	struct rcl_runner *r;

	if (p->running || p->rt->w->stop != NULL)
		return;
	r = runner_create(p->rt, p->def, NULL);
	if (r == NULL) {
		log_warn("task %s: out of memory", p->def->name);
		return;
	}
	p->running = true;
	p->runs++;
	r->slot = p;
	runner_start(r);
}

/* A periodic run ended. */
void task_periodic_done(struct rcl_runner *r)
{
	r->slot->running = false;
	if (r->error != NULL)
		log_worker(LOG_WARNING, r->rt->w->id, "task %s (worker %d): %s",
			   r->def->name, r->rt->w->id, r->error);
	r->slot = NULL;
}

/* Arm a timer for each periodic task. */
static void task_rt_periodic(struct task_rt *rt)
{
	const struct rcl_task_def *def;
	struct timeval tv;
	size_t i, n = tasks_count();

	rt->periodic = xcalloc(n ? n : 1, sizeof *rt->periodic); /* start-up */
	for (i = 0; i < n; i++) {
		def = tasks_at(i, NULL);
		if (def->kind != RCL_TASK_PERIODIC)
			continue;
		struct periodic *p = &rt->periodic[rt->nperiodic++];

		p->def = def;
		p->rt = rt;
		p->ev =
		    event_new(rt->w->base, -1, EV_PERSIST, periodic_fire, p);
		tv.tv_sec = (time_t)(def->period_ms / 1000);
		tv.tv_usec = (suseconds_t)(def->period_ms % 1000) * 1000;
		event_add(p->ev, &tv);
	}
}

/* The worker's runtime (on the main thread, before the worker runs). */
struct task_rt *task_rt_create(struct worker *w, char **cause)
{
	struct task_rt *rt;

	if (tasks_init(w->srv->cfg, cause) != 0)
		return NULL;
	rt = xcalloc(1, sizeof *rt); /* start-up */
	rt->w = w;
	TAILQ_INIT(&rt->live);
	task_rt_periodic(rt);
	return rt;
}

/* Cancel every task still running (the worker is stopping, and the drain
 * timeout has expired): requests are answered 503, RunTask
 * io.reclaim.ShuttingDown. The answers are only queued: the worker's loop
 * must run on to write them (worker.c's drain). On the worker's thread. */
void task_rt_stop(struct task_rt *rt)
{
	struct rcl_runner *r;

	if (rt == NULL)
		return;
	while ((r = TAILQ_FIRST(&rt->live)) != NULL)
		runner_cancel(r, 503, "reclaimd is stopping");
}

/* Cancel what still runs (task_rt_stop), then free the runtime. */
void task_rt_destroy(struct task_rt *rt)
{
	size_t i;

	if (rt == NULL)
		return;
	for (i = 0; i < rt->nperiodic; i++)
		event_free(rt->periodic[i].ev);
	rt->nperiodic = 0;
	task_rt_stop(rt);
	free(rt->periodic);
	free(rt);
}

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

/* r's client closed its connection (EV_CLOSED: it sent its FIN, or the
 * connection failed) while its task runs: cancel the task, and close the
 * connection, which evhttp does not notice while it holds a request. TCP
 * cannot tell a client that closed from one that shut down only its
 * sending side; as nginx (499) and Go's net/http do, the end of the
 * request stream counts as leaving. */
static void request_hangup(evutil_socket_t fd, short what, void *arg)
{
	struct rcl_runner *r = arg;
	struct evhttp_connection *evcon = r->evcon;
	struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};

	if (poll(&pfd, 1, 0) != 1 ||
	    !(pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
		return; /* not gone after all: keep watching */
	task_cancel_requests(r->rt, evcon); /* r may be freed */
	evhttp_connection_free(evcon);
}

/* Watch r's connection for its client leaving, once its task waits. Out
 * of memory, it is not watched: the task runs to its end, its reply
 * dropped, as it always could. */
static void watch_hangup(struct rcl_runner *r)
{
	struct bufferevent *bev;
	int fd;

	if (r->evcon == NULL)
		return;
	bev = evhttp_connection_get_bufferevent(r->evcon);
	fd = bev != NULL ? bufferevent_getfd(bev) : -1;
	if (fd < 0)
		return;
	r->hangup = event_new(r->rt->w->base, fd, EV_CLOSED | EV_PERSIST,
			      request_hangup, r);
	if (r->hangup != NULL && event_add(r->hangup, NULL) != 0) {
		event_free(r->hangup);
		r->hangup = NULL;
	}
}

/* Stop watching r's connection: its request is answered or dropped. */
static void unwatch_hangup(struct rcl_runner *r)
{
	if (r->hangup != NULL)
		event_free(r->hangup); /* from its own callback too: allowed */
	r->hangup = NULL;
	r->evcon = NULL;
}

/* Run def for req; the reply is sent when the task finishes. */
void task_start_request(struct worker *w, const struct rcl_task_def *def,
			struct evhttp_request *req)
{
	struct rcl_runner *r = NULL;
	struct json *args;

	if (request_args(req, &args) == 0)
		r = runner_create(w->tasks, def, args);
	if (r == NULL) {
		http_retry_after(w, req);
		http_send(w, req, 503, "out of memory\n", NULL);
		return;
	}
	r->req = req;
	r->evcon = evhttp_request_get_connection(req);
	rcl_incref(r); /* runner_start takes one; r is ours after it */
	runner_start(r);
	if (r->req != NULL)
		watch_hangup(r);
	rcl_decref(r);
}

/* Whether a task of rt's still has req to answer. */
bool task_holds_request(struct task_rt *rt, struct evhttp_request *req)
{
	struct rcl_runner *r;

	if (rt == NULL)
		return false;
	TAILQ_FOREACH(r, &rt->live, entry)
	{
		if (r->req == req)
			return true;
	}
	return false;
}

/* Let go of r's request unanswered: its connection is gone. A request
 * evhttp detached (its connection failed: EOF, error, timeout) is freed
 * only when answered, so it is ours to free; one still on the connection
 * is freed by evhttp with the connection (request_hangup frees it). Either
 * way no completion callback comes: it leaves the in-flight count here. */
static void task_drop_request(struct rcl_runner *r)
{
	struct evhttp_request *req = r->req;

	r->req = NULL;
	unwatch_hangup(r);
	if (evhttp_request_get_connection(req) == NULL)
		evhttp_request_free(req);
	r->rt->w->inflight--;
}

/*
 * evcon is closing (evhttp's close callback, or request_hangup, both on the
 * worker's thread): cancel each request task still answering a request of
 * it at its yield point (runner_cancel, with the tasks it waits for),
 * counted as cancelled. The request is dropped first, so nothing is ever
 * written for it. Cancelling one changes the live list: start over.
 */
void task_cancel_requests(struct task_rt *rt, struct evhttp_connection *evcon)
{
	struct rcl_runner *r;

	if (rt == NULL || evcon == NULL)
		return;
again:
	TAILQ_FOREACH(r, &rt->live, entry)
	{
		if (r->req == NULL || r->evcon != evcon || r->finished)
			continue;
		log_worker(LOG_INFO, rt->w->id,
			   "task %s (worker %d): cancelled: the client hung up",
			   r->def->name, rt->w->id);
		task_drop_request(r);
		runner_cancel(r, 500, "cancelled: the client hung up");
		goto again;
	}
}

/* Send a request task's reply: its body, or its error. */
void task_reply_request(struct rcl_runner *r)
{
	struct evhttp_request *req = r->req;
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct json *h;
	size_t len;
	char *text;

	r->req = NULL;
	unwatch_hangup(r);
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
			http_retry_after(r->rt->w, req);
		len = strlen(r->error) + 2;
		if ((text = malloc(len)) != NULL)
			snprintf(text, len, "%s\n", r->error);
		evhttp_remove_header(out, "Content-Type");
		evhttp_add_header(out, "Content-Type", "text/plain");
		if (text == NULL)
			http_send(r->rt->w, req, 503, "out of memory\n", NULL);
		else
			http_send(r->rt->w, req, r->status, text, NULL);
		free(text);
		return;
	}
	http_send(r->rt->w, req, r->status ? r->status : 200, NULL, r->body);
}

/* Start an on-demand task for RunTask; answered by task_reply_cmd. */
void task_start_cmd(struct worker *w, struct wcmd *cmd)
{
	struct rcl_runner *r;

	cmd->out.worker = w->id;
	if (w->stop != NULL || w->tasks == NULL) {
		cmd->out.error = strdup("reclaimd is stopping");
		cmd->out.error_name = "io.reclaim.ShuttingDown";
		cmd->out.oom = cmd->out.error == NULL;
		mailbox_post(w->srv->inbox, cmd);
		return;
	}
	r = runner_create(w->tasks, cmd->in.run.def, cmd->in.run.args);
	cmd->in.run.args = NULL;
	if (r == NULL) {
		cmd->out.oom = true;
		mailbox_post(w->srv->inbox, cmd);
		return;
	}
	r->cmd = cmd;
	r->budget.limit = (size_t)cmd->in.run.max_bytes;
	w->inflight++;
	runner_start(r);
}

/* Answer RunTask with the result or the error, back on the main thread. */
void task_reply_cmd(struct rcl_runner *r)
{
	struct wcmd *cmd = r->cmd;
	struct worker *w = r->rt->w;

	r->cmd = NULL;
	if (r->oom) {
		cmd->out.error = runner_oom_reason(r);
		cmd->out.oom = cmd->out.error == NULL;
		cmd->out.error_name = "io.reclaim.OutOfMemory";
	} else if (runner_out_of_memory(r)) {
		cmd->out.oom = true;
	} else if (r->error != NULL) {
		cmd->out.error = strdup(r->error);
		cmd->out.oom = cmd->out.error == NULL;
		cmd->out.error_name =
		    r->invalid != NULL ? "org.varlink.service.InvalidParameter"
		    : r->status == 503 ? "io.reclaim.ShuttingDown"
				       : "io.reclaim.TaskFailed";
		cmd->out.invalid = r->invalid;
		r->invalid = NULL;
	} else {
		cmd->out.result = r->result != NULL ? r->result : json_object();
		cmd->out.oom = cmd->out.result == NULL;
		r->result = NULL;
	}
	w->inflight--;
	mailbox_post(w->srv->inbox, cmd);
}

/* Send the progress report r made this step, if any, to the main thread
 * (method_run_task_progress), ahead of the answer in the same mailbox. Out
 * of memory, it is dropped. */
void task_progress_post(struct rcl_runner *r)
{
	struct wcmd *cmd;

	if (r->progress == NULL)
		return;
	cmd = r->cmd != NULL && !json_failed(r->progress)
		  ? calloc(1, sizeof *cmd)
		  : NULL;
	if (cmd == NULL) {
		json_destroy(r->progress);
		r->progress = NULL;
		return;
	}
	cmd->type = WCMD_PROGRESS;
	cmd->in.progress.run = r->cmd;
	cmd->in.progress.progress = r->progress;
	r->progress = NULL;
	mailbox_post(r->rt->w->srv->inbox, cmd);
}

/* Whether r runs for a RunTask whose caller hung up. */
bool task_cmd_cancelled(const struct rcl_runner *r)
{
	return r->cmd != NULL && atomic_load(&r->cmd->in.run.cancel);
}

/* Cancel r, whose RunTask caller hung up. */
void task_cancel_hung_up(struct rcl_runner *r)
{
	log_worker(LOG_INFO, r->rt->w->id,
		   "task %s (worker %d): cancelled: the caller hung up",
		   r->def->name, r->rt->w->id);
	runner_cancel(r, 500, "cancelled: the caller hung up");
}

/* The caller of a RunTask hung up: mark its command and have the worker
 * cancel the task now. On the main thread, while the command is the
 * worker's (or its answer is on the way back: then nothing happens). */
void task_cancel_cmd(struct wcmd *cmd)
{
	atomic_store(&cmd->in.run.cancel, true);
	worker_cancel(cmd->worker);
}

/* Cancel each task whose RunTask is marked (WCMD_CANCEL). Cancelling one
 * changes the live list (its children leave too): start over each time. */
void task_rt_cancel(struct task_rt *rt)
{
	struct rcl_runner *r;

	if (rt == NULL)
		return;
again:
	TAILQ_FOREACH(r, &rt->live, entry)
	{
		if (task_cmd_cancelled(r)) {
			task_cancel_hung_up(r);
			goto again;
		}
	}
}
