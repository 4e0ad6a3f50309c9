/*
 * The task runtime: runners drive tasks from one yield point to the next on
 * a worker's event loop, in the manner of Tornado's gen.Runner.
 *
 * Objects: a runner ("runner") and the task's frame are on the worker's heap;
 * so is each timer or file descriptor yield point ("yield"). While a runner
 * waits, runner -yield_point-> yield -runner-> runner is a cycle, as it is in
 * Tornado; for another task, runner -yield_point-> child -waiter-> runner.
 * IMPORTANT: both sides drop their reference as soon as the yield point
 * fires, is cancelled, or the runner finishes (the write-up's fix of
 * Runner.run): the runtime never leaves a cycle for the collector. Only
 * /seed/leaky keeps one, on purpose, with its own types (tasks/seed-leaky.c).
 *
 * Ownership: the worker's runtime holds one reference to each runner that
 * has not finished (the live list): a waiting runner is reachable from it,
 * never only from libevent. Libevent callbacks hold a reference to what they
 * will touch (the yield object, or the runner for a scheduled resume).
 *
 * Out of memory: a runner that cannot allocate fails with runner_oom's
 * static error, which needs no allocation: a request is answered 503,
 * RunTask io.reclaim.OutOfMemory, a periodic run logs it.
 *
 * Counters (tasks.* in the stats): every runner that joins the live list is
 * started, and leaves it exactly once, as finished (a result), failed (an
 * error) or cancelled (runner_cancel): started = finished + failed +
 * cancelled + running.
 *
 * Who answers: whoever started the runner (runner_start's owner: the HTTP
 * front's http-task.c, or task.c for RunTask and periodic runs) is called
 * back when it finishes, when a step made a progress report, and before
 * each step to ask whether the task was given up. This file knows nothing
 * of HTTP, varlink or timers; a child task (rcl_yield_task) has no owner:
 * it answers its waiter.
 */
#include <errno.h>
#include <stddef.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reclaimd.h"
#include "task-internal.h"

/* The error of a runner out of memory: static, never freed. */
static char runner_oom_text[] = "out of memory";

/* Free an error unless it is runner_oom_text. */
static void runner_free_error(char *error)
{
	if (error != runner_oom_text)
		free(error);
}

/* A timer or file descriptor yield point. */
struct yield {
	struct event *ev;
	struct rcl_runner *runner; /* the runner waiting (a reference) */
};

/* Drop the runner. */
static void yield_clear(void *self)
{
	struct yield *y = self;
	struct rcl_runner *r = y->runner;

	y->runner = NULL;
	rcl_decref(r);
}

/* Free the event (it may be pending: event_free removes it). */
static void yield_destroy(void *self)
{
	struct yield *y = self;

	if (y->ev != NULL)
		event_free(y->ev);
	y->ev = NULL;
}

/* The runner reference described (traverse and clear are the library's). */
static const rcl_type yield_type = {
    .name = "yield",
    .size = sizeof(struct yield),
    .destroy = yield_destroy,
    RCL_REFS(RCL_REF(struct yield, runner)),
};

/* Release what is not on the heap. */
static void runner_destroy(void *self)
{
	struct rcl_runner *r = self;

	json_destroy(r->args);
	json_destroy(r->result);
	json_destroy(r->child_result);
	json_destroy(r->progress);
	runner_free_error(r->child_error);
	runner_free_error(r->error);
	free(r->invalid);
	if (r->body != NULL)
		evbuffer_free(r->body);
	if (r->headers != NULL)
		json_destroy(r->headers);
}

/* The frame, the yield point and the runner waiting on this one,
 * described (traverse and clear are the library's). */
static const rcl_type runner_type = {
    .name = "runner",
    .size = sizeof(struct rcl_runner),
    .destroy = runner_destroy,
    RCL_REFS(RCL_REF(struct rcl_runner, frame),
	     RCL_REF(struct rcl_runner, yield_point),
	     RCL_REF(struct rcl_runner, waiter)),
};

/* The label of what a task makes (leak debugging's attribution): a
 * request task's route, another's name; the registry's strings, which live
 * as long as the process. */
static const char *runner_label(const struct rcl_task_def *def)
{
	return def->kind == RCL_TASK_REQUEST ? def->route : def->name;
}

/* A new runner for def (not yet started) and its frame, both attributed
 * to def's task; args is taken. NULL if short. */
struct rcl_runner *runner_create(struct task_rt *rt,
				 const struct rcl_task_def *def,
				 struct json *args)
{
	rcl_heap *h = rt->w->heap;
	const char *label = rcl_heap_set_label(h, runner_label(def));
	struct rcl_runner *r = rcl_new(h, &runner_type);

	if (r != NULL && def->frame != NULL &&
	    (r->frame = rcl_new(h, def->frame)) == NULL) {
		rcl_decref(r);
		r = NULL;
	}
	rcl_heap_set_label(h, label);
	if (r == NULL) {
		json_destroy(args);
		return NULL;
	}
	r->def = def;
	r->rt = rt;
	r->args = args; /* NULL: none */
	return r;
}

/* r ran out of memory: it fails (503) with a static error, unless it
 * failed already (the first reason wins, as in rcl_runner_fail). */
enum rcl_step runner_oom(struct rcl_runner *r)
{
	if (r->error == NULL) {
		r->error = runner_oom_text;
		r->status = 503;
	}
	return RCL_STEP_FAIL;
}

/* Whether r failed for memory: its own allocation failed, or the heap
 * refused one of the task's (the limit, or its budget). */
bool runner_out_of_memory(const struct rcl_runner *r)
{
	return r->error == runner_oom_text || r->oom;
}

/* Why r failed for memory, for io.reclaim.OutOfMemory (malloc'd, or
 * NULL if even that cannot be had). */
char *runner_oom_reason(const struct rcl_runner *r)
{
	char *text;
	int n;

	if (r->budget.refused > 0)
		n = asprintf(&text,
			     "%s: memory refused: the task held %lld bytes, "
			     "its budget (tasks.max_bytes) is %zu",
			     r->error, (long long)r->budget.used,
			     r->budget.limit);
	else
		n = asprintf(&text,
			     "%s: memory refused: it would take usage past "
			     "the watchdog's hard level",
			     r->error);
	return n < 0 ? NULL : text;
}

/* Forget r's yield point from both sides (fired, cancelled or finished). */
static void runner_drop_yield(struct rcl_runner *r)
{
	void *yp = r->yield_point;
	struct rcl_runner *child;

	if (yp == NULL)
		return;
	r->yield_point = NULL;
	if (rcl_typeof(yp) == &runner_type) {
		child = yp; /* it runs on, with nobody waiting for it */
		if (child->waiter == r) {
			child->waiter = NULL;
			rcl_decref(r);
		}
	} else {
		yield_clear(yp);
	}
	rcl_decref(yp);
}

/* One step, with the task's budget set on the heap (tasks.max_bytes) and
 * its label (what it makes is attributed to it), noting whether the heap
 * refused memory meanwhile. */
static enum rcl_step runner_step(struct rcl_runner *r)
{
	rcl_heap *h = r->rt->w->heap;
	uint64_t refused = rcl_heap_refusals(h);
	rcl_budget *prev = NULL;
	const char *label;
	enum rcl_step rc;

	if (r->budget.limit != 0)
		prev = rcl_heap_set_budget(h, &r->budget);
	label = rcl_heap_set_label(h, runner_label(r->def));
	rc = r->def->step(r, r->frame);
	rcl_heap_set_label(h, label);
	if (r->budget.limit != 0)
		rcl_heap_set_budget(h, prev);
	if (rcl_heap_refusals(h) != refused)
		r->refused = true;
	return rc;
}

/* Hand the progress report a step made to the owner, which takes it;
 * nobody to take it, it is dropped. */
static void runner_report(struct rcl_runner *r)
{
	if (r->progress == NULL)
		return;
	if (r->owner != NULL && r->owner->progress != NULL)
		r->owner->progress(r, r->ctx);
	json_destroy(r->progress); /* NULL if taken */
	r->progress = NULL;
}

/* Call the step function until the task yields or ends. */
static void runner_resume(struct rcl_runner *r)
{
	const char *why;
	enum rcl_step rc;

	if (r->finished)
		return;
	why = r->owner != NULL && r->owner->abandoned != NULL
		  ? r->owner->abandoned(r, r->ctx)
		  : NULL;
	if (why != NULL) {
		runner_abandon(r, why);
		return;
	}
	rc = runner_step(r);
	r->steps++;
	if (rc == RCL_STEP_YIELD && r->yield_point != NULL) {
		runner_report(r);
		return;
	}
	if (rc == RCL_STEP_YIELD)
		rc = rcl_runner_fail(r, 500,
				     "task %s yielded without a yield "
				     "point",
				     r->def->name);
	runner_finish(r, rc);
}

/* A scheduled resume: the event held a reference to r. */
static void runner_scheduled(evutil_socket_t fd, short what, void *arg)
{
	struct rcl_runner *r = arg;

	runner_resume(r);
	rcl_decref(r);
}

/* Resume r on the next turn of the loop. */
static int runner_schedule(struct rcl_runner *r)
{
	static const struct timeval now = {0, 0};

	rcl_incref(r);
	if (event_base_once(r->rt->w->base, -1, EV_TIMEOUT, runner_scheduled, r,
			    &now) != 0) {
		rcl_decref(r);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* r joins the live list, which takes a reference (the caller's): it has
 * started. */
static void runner_go_live(struct rcl_runner *r)
{
	struct task_rt *rt = r->rt;

	TAILQ_INSERT_TAIL(&rt->live, r, entry);
	rt->nlive++;
	r->live = true;
	rt->w->stats.tasks_started_total++;
	rt->w->stats.tasks_running = rt->nlive;
}

/* r left the live list: count how it ended. */
static void runner_count_end(struct rcl_runner *r)
{
	struct stats_worker *st = &r->rt->w->stats;

	if (r->cancelled)
		st->tasks_cancelled_total++;
	else if (r->error != NULL)
		st->tasks_failed_total++;
	else
		st->tasks_finished_total++;
	if (!r->cancelled && runner_out_of_memory(r))
		st->tasks_out_of_memory_total++;
	st->tasks_running = r->rt->nlive;
}

/* Start r for owner (see struct runner_owner): it joins the live list and
 * runs its first step now. */
void runner_start(struct rcl_runner *r, const struct runner_owner *owner,
		  void *ctx)
{
	r->owner = owner;
	r->ctx = ctx;
	runner_go_live(r); /* takes the caller's ref */
	runner_resume(r);
}

/* Hand the result to whoever waits: the parent task, if any. */
static void runner_wake_waiter(struct rcl_runner *r)
{
	struct rcl_runner *p = r->waiter;

	if (p == NULL)
		return;
	r->waiter = NULL; /* its reference moves to the scheduled resume */
	json_destroy(p->child_result);
	runner_free_error(p->child_error);
	p->child_result = r->error == NULL ? r->result : NULL;
	p->child_error = NULL;
	if (r->error != NULL && (p->child_error = strdup(r->error)) == NULL)
		p->child_error = runner_oom_text;
	if (r->error == NULL)
		r->result = NULL;
	if (p->yield_point == r) {
		p->yield_point = NULL;
		rcl_decref(r); /* r stays alive: the live list holds it */
	}
	if (runner_schedule(p) != 0)
		log_err("task %s: cannot resume after %s", p->def->name,
			r->def->name);
	rcl_decref(p);
}

/* The task ended: drop its yield point, answer (its owner, or the runner
 * waiting for it), leave the live list. */
void runner_finish(struct rcl_runner *r, enum rcl_step rc)
{
	const struct runner_owner *owner = r->owner;
	struct task_rt *rt = r->rt;

	if (r->finished)
		return;
	r->finished = true;
	if (rc == RCL_STEP_FAIL && r->error == NULL &&
	    (r->error = strdup("failed")) == NULL)
		runner_oom(r);
	if (rc == RCL_STEP_FAIL && r->refused && !r->cancelled &&
	    r->invalid == NULL) {
		r->oom = true; /* it failed after memory was refused to it */
		r->status = 503;
	}
	runner_drop_yield(r);
	r->owner = NULL;
	if (owner != NULL)
		owner->done(r, r->ctx);
	r->ctx = NULL;
	runner_wake_waiter(r);
	if (!r->live)
		return;
	TAILQ_REMOVE(&rt->live, r, entry);
	rt->nlive--;
	r->live = false;
	runner_count_end(r);
	rcl_decref(r);
}

/*
 * Stop r where it waits: its step function is not called again, and it
 * finishes failed with why (status: a request's reply), counted as
 * cancelled; a task it waits for (rcl_yield_task) is cancelled with it, as
 * nobody would read its result.
 *
 * Safe for every kind of task: a worker runs one step at a time, so a
 * runner reached here is always between steps, at a yield point (or about
 * to take its first step), which is where the runtime has always dropped
 * tasks when the worker stops. Its yield point is forgotten from both sides
 * (a timer or file descriptor event is freed, not fired), and its frame is
 * released by the frame type's clear and destroy, as at any other end.
 */
void runner_cancel(struct rcl_runner *r, int status, const char *why)
{
	struct rcl_runner *child = NULL;

	if (r->finished)
		return;
	if (r->yield_point != NULL &&
	    rcl_typeof(r->yield_point) == &runner_type) {
		child = r->yield_point;
		rcl_incref(child);
	}
	r->cancelled = true;
	rcl_incref(r);
	runner_finish(r, rcl_runner_fail(r, status, "%s", why));
	rcl_decref(r);
	if (child != NULL) {
		runner_cancel(child, status, why);
		rcl_decref(child);
	}
}

/* Whoever started r gave up on it (why: "cancelled: the client hung up"
 * and the like): log it and cancel r (runner_cancel). */
void runner_abandon(struct rcl_runner *r, const char *why)
{
	log_worker(LOG_INFO, r->rt->w->id, "task %s (worker %d): %s",
		   r->def->name, r->rt->w->id, why);
	runner_cancel(r, 500, why);
}

/* A timer or file descriptor fired: break the cycle, then resume. */
static void yield_fired(evutil_socket_t fd, short what, void *arg)
{
	struct yield *y = arg;
	struct rcl_runner *r = y->runner;

	y->runner = NULL; /* its reference is ours until the end */
	if (r->yield_point == y) {
		r->yield_point = NULL;
		rcl_decref(y); /* frees y and its event */
	}
	r->fired = what;
	runner_resume(r);
	rcl_decref(r);
}

/* Set a timer or fd yield point; tv NULL: no timeout. */
static int runner_yield_event(struct rcl_runner *r, int fd, short events,
			      const struct timeval *tv)
{
	struct yield *y;

	if (r->yield_point != NULL || r->finished) {
		errno = EBUSY;
		return -1;
	}
	y = rcl_new(r->rt->w->heap, &yield_type);
	if (y == NULL)
		return -1;
	y->ev = event_new(r->rt->w->base, fd, events, yield_fired, y);
	if (y->ev == NULL || event_add(y->ev, tv) != 0) {
		rcl_decref(y);
		errno = ENOMEM;
		return -1;
	}
	rcl_incref(r);
	y->runner = r;	    /* yield -runner-> runner */
	r->yield_point = y; /* runner -yield_point-> yield: our reference */
	r->fired = 0;
	return 0;
}

/* Wait ms milliseconds. */
int rcl_yield_sleep(rcl_runner *r, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000),
			     (suseconds_t)(ms % 1000) * 1000};

	return runner_yield_event(r, -1, 0, &tv);
}

/* Wait until fd is ready for events (RCL_IO_READ, RCL_IO_WRITE), or the
 * timeout passes (0: none). */
int rcl_yield_fd(rcl_runner *r, int fd, short events, uint64_t timeout_ms)
{
	struct timeval tv = {(time_t)(timeout_ms / 1000),
			     (suseconds_t)(timeout_ms % 1000) * 1000};

	if (fd < 0 || (events & (RCL_IO_READ | RCL_IO_WRITE)) == 0) {
		errno = EINVAL;
		return -1;
	}
	events &= RCL_IO_READ | RCL_IO_WRITE;
	return runner_yield_event(r, fd, events, timeout_ms ? &tv : NULL);
}

/* Let the loop turn once (other requests run), then continue. */
int rcl_yield_next(rcl_runner *r)
{
	struct timeval tv = {0, 0};

	return runner_yield_event(r, -1, 0, &tv);
}

/* Start def as a child of r, with r's arguments, and wait for it. */
int rcl_yield_task(rcl_runner *r, const struct rcl_task_def *def)
{
	struct rcl_runner *child;

	if (r->yield_point != NULL || r->finished || def == NULL ||
	    def->kind == RCL_TASK_REQUEST) {
		errno = def == NULL || def->kind == RCL_TASK_REQUEST ? EINVAL
								     : EBUSY;
		return -1;
	}
	child = runner_create(r->rt, def, json_copy(r->args));
	if (child == NULL)
		return -1;
	child->budget.limit = r->budget.limit;
	rcl_incref(r);
	child->waiter = r;	/* child -waiter-> runner */
	r->yield_point = child; /* runner -yield_point-> child */
	rcl_incref(child);	/* the live list's reference */
	runner_go_live(child);
	if (runner_schedule(child) != 0) {
		runner_finish(child, rcl_runner_fail(child, 500,
						     "cannot "
						     "schedule"));
		return -1;
	}
	return 0;
}
