/*
 * What a task's step function calls: its arguments, its reply or result,
 * failure. The yield points are in runner.c.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "task-internal.h"
#include "value.h"

/* The heap of the worker running r. */
rcl_heap *rcl_runner_heap(const rcl_runner *r)
{
	return r->rt->w->heap;
}

/* The task's frame, or NULL. */
void *rcl_runner_frame(const rcl_runner *r)
{
	return r->frame;
}

/* The task's definition. */
const struct rcl_task_def *rcl_runner_def(const rcl_runner *r)
{
	return r->def;
}

/* The worker's number. */
int rcl_runner_worker(const rcl_runner *r)
{
	return r->rt->w->id;
}

/* Steps run before this one. */
unsigned rcl_runner_steps(const rcl_runner *r)
{
	return r->steps;
}

/* What the last yield point reported. */
short rcl_runner_fired(const rcl_runner *r)
{
	return r->fired;
}

/* The result of the task waited for (borrowed). */
const rcl_result *rcl_runner_child_result(const rcl_runner *r)
{
	return (const rcl_result *)r->child_result;
}

/* Why the task waited for failed, or NULL. */
const char *rcl_runner_child_error(const rcl_runner *r)
{
	return r->child_error;
}

/* An argument's text, or NULL. */
const char *rcl_runner_arg(const rcl_runner *r, const char *key)
{
	return json_as_str(json_get(r->args, key));
}

/* Fail the task because argument key is bad. */
static int bad_arg(rcl_runner *r, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad_arg(rcl_runner *r, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *why;

	va_start(ap, fmt);
	if (vasprintf(&why, fmt, ap) < 0)
		why = NULL;
	va_end(ap);
	free(r->invalid);
	r->invalid = strdup(key);
	if (why == NULL || r->invalid == NULL)
		runner_oom(r);
	else
		rcl_runner_fail(r, 400, "%s", why);
	free(why);
	return -1;
}

/* A whole-number argument in [min, max], def when absent. */
int rcl_runner_arg_u64(rcl_runner *r, const char *key, uint64_t def,
		       uint64_t min, uint64_t max, uint64_t *out)
{
	const char *s = rcl_runner_arg(r, key);
	uint64_t v;

	if (s == NULL) {
		*out = def;
		return 0;
	}
	/* a count as the configuration's (common/value.c) */
	if (value_counts(s, &v, 1, max, NULL, 0) != 0 || v < min)
		return bad_arg(r, key,
			       "%s must be a whole number from %llu to "
			       "%llu, not \"%s\"",
			       key, (unsigned long long)min,
			       (unsigned long long)max, s);
	*out = v;
	return 0;
}

/* A real-number argument in [min, max], def when absent. */
int rcl_runner_arg_double(rcl_runner *r, const char *key, double def,
			  double min, double max, double *out)
{
	const char *s = rcl_runner_arg(r, key);
	double v;
	char *end;

	if (s == NULL) {
		*out = def;
		return 0;
	}
	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || isnan(v) || v < min ||
	    v > max)
		return bad_arg(r, key,
			       "%s must be a number from %g to %g, not "
			       "\"%s\"",
			       key, min, max, s);
	*out = v;
	return 0;
}

/* Append to a request task's body. */
int rcl_runner_write(rcl_runner *r, const void *data, size_t len)
{
	if (r->body == NULL && (r->body = evbuffer_new()) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	return evbuffer_add(r->body, data, len);
}

/* Append formatted text to a request task's body. */
int rcl_runner_printf(rcl_runner *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->body == NULL && (r->body = evbuffer_new()) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	va_start(ap, fmt);
	n = evbuffer_add_vprintf(r->body, fmt, ap);
	va_end(ap);
	return n < 0 ? -1 : 0;
}

/* A request task's reply status. */
void rcl_runner_set_status(rcl_runner *r, int code)
{
	r->status = code;
}

/* A reply header (kept until the reply is sent). */
void rcl_runner_set_header(rcl_runner *r, const char *name, const char *value)
{
	if (strcasecmp(name, "Content-Type") == 0 &&
	    strlen(value) < sizeof r->content_type) {
		memcpy(r->content_type, value, strlen(value) + 1);
		return; /* every reply has one: kept without allocating */
	}
	if (r->headers == NULL)
		r->headers = json_object();
	json_add_str(r->headers, name, value);
	if (json_failed(r->headers))
		runner_oom(r); /* a reply missing a header is not sent */
}

/* A request task's request is its owner's (http-task.c); another task has
 * none. */

/* A request task's path, or NULL. */
const char *rcl_runner_path(const rcl_runner *r)
{
	const struct runner_owner *o = r->owner;

	return o != NULL && o->path != NULL ? o->path(r->ctx) : NULL;
}

/* A request task's method. */
const char *rcl_runner_method(const rcl_runner *r)
{
	const struct runner_owner *o = r->owner;

	return o != NULL && o->method != NULL ? o->method(r->ctx) : NULL;
}

/* A request header, or NULL. */
const char *rcl_runner_header(const rcl_runner *r, const char *name)
{
	const struct runner_owner *o = r->owner;

	return o != NULL && o->header != NULL ? o->header(r->ctx, name) : NULL;
}

/* The request body, contiguous; NULL (and *len 0) if none. */
const void *rcl_runner_body(rcl_runner *r, size_t *len)
{
	const struct runner_owner *o = r->owner;

	*len = 0;
	return o != NULL && o->body != NULL ? o->body(r->ctx, len) : NULL;
}

/* Record why the task failed; the first reason wins. */
enum rcl_step rcl_runner_fail(rcl_runner *r, int code, const char *fmt, ...)
{
	va_list ap;

	if (r->error != NULL)
		return RCL_STEP_FAIL;
	va_start(ap, fmt);
	if (vasprintf(&r->error, fmt, ap) < 0)
		r->error = NULL;
	va_end(ap);
	if (r->error == NULL)
		return runner_oom(r);
	r->status = code;
	return RCL_STEP_FAIL;
}

/* The result object an on-demand task answers with; NULL (the task fails)
 * if out of memory. */
rcl_result *rcl_runner_result(rcl_runner *r)
{
	if (r->result == NULL && (r->result = json_object()) == NULL)
		runner_oom(r);
	return (rcl_result *)r->result;
}

/* A progress report, if one is due; see reclaimd/task.h. Out of memory, no
 * report: progress is not worth failing the task for. */
rcl_result *rcl_runner_progress(rcl_runner *r, double fraction,
				const char *phase)
{
	uint64_t now;

	if (r->owner == NULL || r->owner->progress == NULL || r->finished)
		return NULL;
	now = mono_us();
	if (r->progress != NULL)
		json_destroy(r->progress); /* twice in a step: the last wins */
	else if (r->progress_us != 0 &&
		 now - r->progress_us < RCL_PROGRESS_EVERY_MS * 1000)
		return NULL;
	r->progress_us = now;
	r->progress = json_object();
	if (fraction >= 0)
		json_add_double(r->progress, "fraction",
				fraction > 1 ? 1 : fraction);
	if (phase != NULL)
		json_add_str(r->progress, "phase", phase);
	return (rcl_result *)json_add_object(r->progress, "figures");
}

/* An object member (or element, in an array). */
rcl_result *rcl_result_add_object(rcl_result *parent, const char *key)
{
	return (rcl_result *)json_add_object((struct json *)parent, key);
}

/* An array member. */
rcl_result *rcl_result_add_array(rcl_result *parent, const char *key)
{
	return (rcl_result *)json_add_array((struct json *)parent, key);
}

/* A whole number. */
void rcl_result_add_u64(rcl_result *parent, const char *key, uint64_t v)
{
	json_add_u64((struct json *)parent, key, v);
}

/* A real number. */
void rcl_result_add_double(rcl_result *parent, const char *key, double v)
{
	json_add_double((struct json *)parent, key, v);
}

/* A string. */
void rcl_result_add_str(rcl_result *parent, const char *key, const char *v)
{
	json_add_str((struct json *)parent, key, v);
}

/* A boolean. */
void rcl_result_add_bool(rcl_result *parent, const char *key, bool v)
{
	json_add_bool((struct json *)parent, key, v);
}

/* A whole-number member, 0 when absent. */
uint64_t rcl_result_get_u64(const rcl_result *obj, const char *key)
{
	return json_u64(json_get((const struct json *)obj, key));
}

/* Whether the task has failed. */
bool rcl_runner_failed(const rcl_runner *r)
{
	return r->error != NULL;
}
