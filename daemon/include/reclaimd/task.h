/*
 * reclaimd worker tasks: the API built-in tasks and plugins are written in.
 *
 * A task is a step function over a frame, an object on the worker's heap
 * (rcl_new'd by the runtime from the task's frame type). A runner, itself a
 * heap object, calls the step function; a step either finishes
 * (RCL_STEP_DONE, RCL_STEP_FAIL) or sets one yield point and returns
 * RCL_STEP_YIELD: a timer, a file descriptor, another task, or just the next
 * turn of the event loop. When the yield point fires the runner calls the
 * step function again; the frame keeps the task's state between steps.
 *
 * Like Tornado's gen.Runner, a waiting runner and its yield point refer to
 * each other (Runner -yield_point-> yield -runner-> Runner); unlike Tornado
 * 3.1 (the write-up's leak), the runner drops its yield point as soon as it
 * fires and when it finishes, so the runtime leaves no cycle behind.
 *
 * Kinds: request tasks answer an HTTP route on every worker; periodic tasks
 * run every period_ms on every worker; on-demand tasks run once on one worker
 * when `reclaimctl run NAME key=value...` (io.reclaim.RunTask) asks, and
 * answer with their result object.
 *
 * Threads: everything here runs on a worker thread, on that worker's heap;
 * never keep a frame or a runner past the task's end, nor share one with
 * another worker.
 *
 * Cancellation: a task may be stopped at any yield point, when the caller
 * of RunTask or a request task's HTTP client hangs up (with the tasks it
 * waits for) or when reclaimd stops.
 * Its step function is then not called again and its frame is released
 * (the frame type's clear and destroy run): keep whatever must be closed
 * or freed in the frame, and release it there, as example-pipe does.
 *
 * Plugins: a shared object listed in tasks.modules exports one symbol,
 * RCL_PLUGIN_SYMBOL ("reclaim_plugin"), a struct rcl_plugin whose abi is
 * RCL_TASK_ABI_VERSION; reclaimd checks it, then calls register_tasks once
 * on the main thread, before any worker runs. Define it with RCL_PLUGIN().
 */
#ifndef RECLAIMD_TASK_H
#define RECLAIMD_TASK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <reclaim/heap.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change to this header. */
#define RCL_TASK_ABI_VERSION 1

typedef struct rcl_runner rcl_runner;
typedef struct rcl_result rcl_result; /* a JSON object or array */
typedef struct rcl_registry rcl_registry;

enum rcl_task_kind {
	RCL_TASK_REQUEST,   /* answers GET/HEAD/POST on route */
	RCL_TASK_PERIODIC,  /* every period_ms, on every worker */
	RCL_TASK_ON_DEMAND, /* reclaimctl run NAME */
};

enum rcl_step {
	RCL_STEP_DONE,	/* finished: reply or answer */
	RCL_STEP_YIELD, /* a yield point is set: call again when it fires */
	RCL_STEP_FAIL,	/* finished with an error (rcl_runner_fail) */
};

/* Readiness a file descriptor yield point waits for, and what fired. */
#define RCL_IO_READ 0x02
#define RCL_IO_WRITE 0x04
#define RCL_IO_TIMEOUT 0x01

struct rcl_task_def {
	const char *name;	 /* unique; [a-z0-9._-] */
	const char *description; /* one line, for reclaimctl tasks */
	enum rcl_task_kind kind;
	const char *route;  /* request tasks: the exact path, "/seed/leaky" */
	uint64_t period_ms; /* periodic tasks */
	/* The frame's type (its size is rcl_type.size); NULL: no frame. */
	const rcl_type *frame;
	/* Called first and again each time a yield point fires. */
	enum rcl_step (*step)(rcl_runner *r, void *frame);
};

/* The heap of the worker running r. */
rcl_heap *rcl_runner_heap(const rcl_runner *r);
/* The task's frame (owned by the runner), or NULL. */
void *rcl_runner_frame(const rcl_runner *r);
const struct rcl_task_def *rcl_runner_def(const rcl_runner *r);
/* The worker's number, from 0. */
int rcl_runner_worker(const rcl_runner *r);
/* How many times step has been called before this call. */
unsigned rcl_runner_steps(const rcl_runner *r);

/*
 * Arguments: the query string of a request task, the key=value arguments of
 * an on-demand task. rcl_runner_arg_u64 parses a whole number in [min, max]
 * (def when absent); on a bad value it fails the task (400 for a request,
 * InvalidParameter for RunTask) and returns -1: return RCL_STEP_FAIL.
 */
const char *rcl_runner_arg(const rcl_runner *r, const char *key);
int rcl_runner_arg_u64(rcl_runner *r, const char *key, uint64_t def,
		       uint64_t min, uint64_t max, uint64_t *out);
int rcl_runner_arg_double(rcl_runner *r, const char *key, double def,
			  double min, double max, double *out);

/* Yield points: set one, then return RCL_STEP_YIELD. 0, or -1 (errno). */
int rcl_yield_sleep(rcl_runner *r, uint64_t ms);
int rcl_yield_fd(rcl_runner *r, int fd, short events, uint64_t timeout_ms);
int rcl_yield_next(rcl_runner *r); /* the next turn of the loop */
/* Start the on-demand or periodic task def with r's arguments and wait for
 * it to finish; its result is then rcl_runner_child_result(r). */
int rcl_yield_task(rcl_runner *r, const struct rcl_task_def *def);
/* What the last yield point reported: RCL_IO_* for a file descriptor. */
short rcl_runner_fired(const rcl_runner *r);
/* The result of the task waited for by rcl_yield_task (borrowed), or NULL
 * if it failed (rcl_runner_child_error says why). */
const rcl_result *rcl_runner_child_result(const rcl_runner *r);
const char *rcl_runner_child_error(const rcl_runner *r);

/* Request tasks: the reply. The body is sent when the task finishes. */
int rcl_runner_write(rcl_runner *r, const void *data, size_t len);
int rcl_runner_printf(rcl_runner *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void rcl_runner_set_status(rcl_runner *r, int code);
void rcl_runner_set_header(rcl_runner *r, const char *name, const char *value);
const char *rcl_runner_path(const rcl_runner *r);
/* The request's method ("GET", "HEAD", "POST"), a header (NULL if absent),
 * its body (at most http.max_body_bytes; *len set). NULL outside requests. */
const char *rcl_runner_method(const rcl_runner *r);
const char *rcl_runner_header(const rcl_runner *r, const char *name);
const void *rcl_runner_body(rcl_runner *r, size_t *len);
/* Finish with an error: an HTTP status for a request (4xx, 5xx), the reason
 * for the caller. Returns RCL_STEP_FAIL. */
enum rcl_step rcl_runner_fail(rcl_runner *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Whether rcl_runner_fail was called. */
bool rcl_runner_failed(const rcl_runner *r);

/* On-demand tasks: the result object RunTask answers with. */
rcl_result *rcl_runner_result(rcl_runner *r);
/* Builders: key is ignored inside an array. NULL parents are no-ops. */
rcl_result *rcl_result_add_object(rcl_result *parent, const char *key);
rcl_result *rcl_result_add_array(rcl_result *parent, const char *key);
void rcl_result_add_u64(rcl_result *parent, const char *key, uint64_t v);
void rcl_result_add_double(rcl_result *parent, const char *key, double v);
void rcl_result_add_str(rcl_result *parent, const char *key, const char *v);
void rcl_result_add_bool(rcl_result *parent, const char *key, bool v);
/*
 * On-demand tasks: progress, for a RunTask caller that asked for it
 * (varlink "more": reclaimctl run draws it). fraction is how much is done,
 * from 0 to 1 (below 0: not known), phase a word or NULL; returns an object
 * for the figures so far, to fill with the builders below, or NULL when no
 * report is due: nobody asked, or the last was made less than
 * RCL_PROGRESS_EVERY_MS ago. So it is cheap to call at every step. The
 * report is sent when the step returns having set a yield point; a task
 * that never calls it behaves as before. Since ABI 1 without a bump: older
 * plugins simply do not report.
 */
#define RCL_PROGRESS_EVERY_MS 250
rcl_result *rcl_runner_progress(rcl_runner *r, double fraction,
				const char *phase);
/* Readers, for a parent reading its child's result: 0 when absent. */
uint64_t rcl_result_get_u64(const rcl_result *obj, const char *key);

/* Plugins. */
#define RCL_PLUGIN_SYMBOL "reclaim_plugin"

struct rcl_plugin {
	uint32_t abi; /* RCL_TASK_ABI_VERSION when built */
	const char *name;
	const char *description;
	/* Add the plugin's tasks; 0, or -1 with *cause (malloc'd) set. */
	int (*register_tasks)(rcl_registry *reg, char **cause);
};

/* Add a task (def must outlive the daemon: a static). 0, or -1 with *cause
 * (malloc'd) when the name or route is taken or the definition is bad. */
int rcl_registry_add(rcl_registry *reg, const struct rcl_task_def *def,
		     char **cause);

/* Define the plugin's registration symbol. */
#define RCL_PLUGIN(name_, description_, register_)                             \
	__attribute__((visibility("default")))                                 \
	const struct rcl_plugin reclaim_plugin = {RCL_TASK_ABI_VERSION, name_, \
						  description_, register_}

#ifdef __cplusplus
}
#endif

#endif
