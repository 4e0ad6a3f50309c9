/*
 * A worker's task runtime: the runners it has live (runner.c), which it
 * cancels when the worker stops; periodic tasks on timers; and on-demand
 * tasks for RunTask, each answered back to the main thread when its runner
 * finishes. Request tasks are started by the HTTP front (http-task.c). Out
 * of memory once running: RunTask is answered io.reclaim.OutOfMemory (see
 * runner.c's runner_oom), a periodic run logs it; only task_rt_create, at
 * start-up, may stop the daemon.
 *
 * Cancellation: when a RunTask caller hangs up, the main thread marks the
 * command (task_cancel_cmd) and has the worker look at once (WCMD_CANCEL,
 * task_rt_cancel); a runner also asks before each step (cmd_abandoned).
 * Either way the task stops at its yield point (runner_cancel), and the
 * answer still comes back, to be dropped, so the call is freed and its slot
 * under tasks.max_running released only once the task has really stopped.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task-internal.h"
#include "xmalloc.h"

/* A periodic task's timer on one worker. */
struct periodic {
	const struct rcl_task_def *def;
	struct task_rt *rt;
	struct event *ev;
	bool running;
	uint64_t runs;
};

/* A periodic run ended. */
static void periodic_done(struct rcl_runner *r, void *ctx)
{
	struct periodic *p = ctx;

	p->running = false;
	if (r->error != NULL)
		log_worker(LOG_WARNING, r->rt->w->id, "task %s (worker %d): %s",
			   r->def->name, r->rt->w->id, r->error);
}

static const struct runner_owner periodic_owner = {.done = periodic_done};
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
	runner_start(r, &periodic_owner, p);
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

/* Answer RunTask with the result or the error, back on the main thread. */
static void cmd_done(struct rcl_runner *r, void *ctx)
{
	struct wcmd *cmd = ctx;
	struct worker *w = r->rt->w;

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
	worker_inflight_end(w, 1);
	mailbox_post(w->srv->inbox, cmd);
}

/* Send the progress report r made this step to the main thread
 * (method_run_task_progress), ahead of the answer in the same mailbox. Out
 * of memory, it is left to be dropped. */
static void cmd_progress(struct rcl_runner *r, void *ctx)
{
	struct wcmd *cmd;

	if (json_failed(r->progress) || (cmd = calloc(1, sizeof *cmd)) == NULL)
		return;
	cmd->type = WCMD_PROGRESS;
	cmd->in.progress.run = ctx;
	cmd->in.progress.progress = r->progress;
	r->progress = NULL;
	mailbox_post(r->rt->w->srv->inbox, cmd);
}

/* Whether the RunTask caller hung up (task_cancel_cmd marked it). */
static const char *cmd_abandoned(const struct rcl_runner *r, void *ctx)
{
	struct wcmd *cmd = ctx;

	return atomic_load(&cmd->in.run.cancel) ? "cancelled: the caller hung up"
						: NULL;
}

/* RunTask's, with and without a caller taking progress reports. */
static const struct runner_owner cmd_owner = {
    .done = cmd_done, .abandoned = cmd_abandoned};
static const struct runner_owner cmd_owner_progress = {
    .done = cmd_done, .progress = cmd_progress, .abandoned = cmd_abandoned};

/* Start an on-demand task for RunTask; cmd_done answers it. */
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
	r->budget.limit = (size_t)cmd->in.run.max_bytes;
	worker_inflight_begin(w);
	runner_start(r, cmd->in.run.progress ? &cmd_owner_progress : &cmd_owner,
		     cmd);
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
	const char *why;

	if (rt == NULL)
		return;
again:
	TAILQ_FOREACH(r, &rt->live, entry)
	{
		if (r->owner != &cmd_owner && r->owner != &cmd_owner_progress)
			continue;
		if ((why = cmd_abandoned(r, r->ctx)) != NULL) {
			runner_abandon(r, why);
			goto again;
		}
	}
}
