/* The task runtime's private structures (task.c, task-api.c, task-rt.c). */
#ifndef RECLAIMD_TASK_INTERNAL_H
#define RECLAIMD_TASK_INTERNAL_H

#include <sys/queue.h>

#include <reclaimd/task.h>

#include "reclaimd.h"

struct evbuffer;
struct event;
struct evhttp_connection;
struct evhttp_request;
struct periodic;

/* A runner: a heap object (type "runner"); see task.c. */
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
	struct evhttp_request *req;	 /* a request task's request */
	struct evhttp_connection *evcon; /* and its connection, while live */
	struct event *hangup;		 /* its client closing (EV_CLOSED) */
	struct evbuffer *body;
	struct json *headers;
	char content_type[64];
	struct wcmd *cmd;      /* an on-demand task's RunTask command */
	struct periodic *slot; /* a periodic task's timer */
	TAILQ_ENTRY(rcl_runner) entry;
};

/* A periodic task's timer on one worker. */
struct periodic {
	const struct rcl_task_def *def;
	struct task_rt *rt;
	struct event *ev;
	bool running;
	uint64_t runs;
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
void runner_start(struct rcl_runner *r);
enum rcl_step runner_oom(struct rcl_runner *r);
bool runner_out_of_memory(const struct rcl_runner *r);
char *runner_oom_reason(const struct rcl_runner *r);
void runner_finish(struct rcl_runner *r, enum rcl_step rc);
void runner_cancel(struct rcl_runner *r, int status, const char *why);
bool task_cmd_cancelled(const struct rcl_runner *r);
void task_cancel_hung_up(struct rcl_runner *r);
void task_reply_request(struct rcl_runner *r);
void task_reply_cmd(struct rcl_runner *r);
void task_progress_post(struct rcl_runner *r);
void task_periodic_done(struct rcl_runner *r);

#endif
