/*
 * The task runtime's private structures: runners (runner.c) and what a
 * task's step calls (task-api.c); each worker's runtime with its periodic and
 * on-demand tasks (task.c); request tasks, on the HTTP front (http-task.c).
 */
#ifndef RECLAIMD_TASK_INTERNAL_H
#define RECLAIMD_TASK_INTERNAL_H

#include <sys/queue.h>

#include <reclaimd/task.h>

#include "reclaimd.h"

struct evbuffer;
struct periodic;
struct rcl_runner;

/*
 * Whoever starts a runner says how it ends (runner_start): the HTTP front
 * for a request task (http-task.c), the task runtime for RunTask and for a
 * periodic run (task.c). The runner calls back through this and knows
 * nothing of HTTP, varlink or timers. ctx is the starter's own.
 */
struct runner_owner {
	/* The runner finished (a result, an error, or cancelled): answer.
	 * Called once; the runner forgets its owner first. */
	void (*done)(struct rcl_runner *r, void *ctx);
	/* Take the progress report a step made (r->progress); NULL: the
	 * starter takes none, and rcl_runner_progress makes none. */
	void (*progress)(struct rcl_runner *r, void *ctx);
	/* Before each step: why the starter gave up on the task (it is then
	 * cancelled with that), or NULL. */
	const char *(*abandoned)(const struct rcl_runner *r, void *ctx);
	/* A request task's request (rcl_runner_path and the like); NULL:
	 * none. */
	const char *(*path)(void *ctx);
	const char *(*method)(void *ctx);
	const char *(*header)(void *ctx, const char *name);
	const void *(*body)(void *ctx, size_t *len);
};

/* A runner: a heap object (type "runner"); see runner.c. */
struct rcl_runner {
	const struct rcl_task_def *def;
	struct task_rt *rt;
	void *frame;	   /* the task's state (a reference) */
	void *yield_point; /* a yield, or a child runner (a reference) */
	struct rcl_runner *waiter; /* the runner waiting for this one */
	unsigned steps;
	short fired;
	bool live;	/* in rt->live, which holds a reference */
	bool finished;	/* the step function will not be called again */
	bool cancelled; /* stopped at a yield point (runner_cancel) */
	bool refused;	/* the heap refused memory during one of its steps */
	bool oom;	/* it failed for that: 503, io.reclaim.OutOfMemory */
	rcl_budget budget; /* on-demand tasks: tasks.max_bytes (limit 0: none) */
	int status;	/* HTTP status; 0: 200 */
	char *error;	/* why it failed (runner_oom: static text) */
	char *invalid;	/* the argument that was bad, or NULL */
	struct json *args;
	struct json *result;
	struct json *child_result;
	struct json *progress; /* made this step (rcl_runner_progress) */
	uint64_t progress_us;  /* when the last was made (mono_us) */
	char *child_error;
	struct evbuffer *body;	/* a request task's reply */
	struct json *headers;
	char content_type[64];
	const struct runner_owner *owner; /* who started it; NULL: a child */
	void *ctx;			  /* the owner's */
	TAILQ_ENTRY(rcl_runner) entry;
};

TAILQ_HEAD(runner_list, rcl_runner);

/* One worker's runtime. */
struct task_rt {
	struct worker *w;
	struct runner_list live;
	size_t nlive;
	struct periodic *periodic;
	size_t nperiodic;
};

struct rcl_runner *runner_create(struct task_rt *rt,
				 const struct rcl_task_def *def,
				 struct json *args);
void runner_start(struct rcl_runner *r, const struct runner_owner *owner,
		  void *ctx);
enum rcl_step runner_oom(struct rcl_runner *r);
bool runner_out_of_memory(const struct rcl_runner *r);
char *runner_oom_reason(const struct rcl_runner *r);
void runner_finish(struct rcl_runner *r, enum rcl_step rc);
void runner_cancel(struct rcl_runner *r, int status, const char *why);
void runner_abandon(struct rcl_runner *r, const char *why);

#endif
