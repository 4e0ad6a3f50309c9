/*
 * RunTask: start an on-demand (or periodic) task on one worker, chosen in
 * turn, and answer with its result when it finishes; the main loop does not
 * wait meanwhile.
 *
 * At most tasks.max_running such calls run at once (over it:
 * io.reclaim.TooManyTasks, and the call is counted in tasks.rejected_total);
 * a slot is held until the worker's answer is back, so a task cancelled
 * because its caller hung up keeps its slot until it has really stopped.
 *
 * Progress: a call made with "more" gets, before that answer, the reports
 * the task makes (rcl_runner_progress, at most 4 a second), each a reply
 * marked "continues" with progress and without result. A task that reports
 * nothing, or a call without "more", gets the one answer only.
 */
#include <stdlib.h>
#include <string.h>

#include <reclaimd/task.h>

#include "reclaimd.h"

/* Check the arguments: a map of strings. */
static int method_run_task_args(struct call *call)
{
	struct json *args = json_get(call->params, "args"), *a;

	if (args == NULL || json_type(args) == JSON_NULL)
		return 0;
	if (json_type(args) != JSON_OBJECT) {
		call_invalid(call, "args", "args must be an object of strings");
		return -1;
	}
	for (a = json_child(args); a != NULL; a = json_next(a)) {
		if (json_as_str(a) == NULL) {
			call_invalid(call, "args", "args.%s must be a string",
				     json_key(a));
			return -1;
		}
	}
	return 0;
}

/* The worker answered: the result, or the task's error. */
static void method_run_task_done(struct fanout *fan)
{
	struct wcmd *cmd = &fan->cmds[0];
	struct call *call = fan->call;
	const struct rcl_task_def *def = cmd->in.run.def;
	enum call_status st = CALL_DONE;

	call->srv->tasks_running--;
	if (cmd->out.oom) {
		st = call_oom(call);
	} else if (cmd->out.error != NULL && cmd->out.invalid != NULL) {
		st = call_invalid(call, "args", "%s", cmd->out.error);
		json_add_str(call->reply, "argument", cmd->out.invalid);
	} else if (cmd->out.error != NULL) {
		st = call_error(call, cmd->out.error_name, "task %s: %s",
				def->name, cmd->out.error);
		if (strcmp(cmd->out.error_name, "io.reclaim.OutOfMemory") != 0)
			json_add_str(call->reply, "name", def->name);
	} else {
		json_add_str(call_reply(call), "task", def->name);
		json_add_u64(call->reply, "worker", (uint64_t)cmd->out.worker);
		json_attach(call->reply, "result", cmd->out.result);
		cmd->out.result = NULL;
	}
	call_finish(call, st);
	json_destroy(cmd->in.run.args);
	json_destroy(cmd->out.result);
	free(cmd->out.error);
	free(cmd->out.invalid);
	fanout_destroy(fan);
}

/* A progress report from the worker running the task: a reply that
 * continues (unless the caller is gone or not reading). Reports come
 * through the same mailbox as the answer and before it, so the call is
 * still there. */
void method_run_task_progress(struct wcmd *cmd)
{
	struct wcmd *run = cmd->in.progress.run;
	struct call *call = run->fan->call;
	struct json *reply = json_object();

	json_add_str(reply, "task", run->in.run.def->name);
	json_add_u64(reply, "worker", (uint64_t)run->out.worker);
	json_attach(reply, "progress", cmd->in.progress.progress);
	cmd->in.progress.progress = NULL;
	if (!json_failed(reply))
		call_continue(call, reply);
	json_destroy(reply);
	free(cmd);
}

/* The caller hung up: the task is cancelled at its yield point; its
 * answer, when it comes back, goes nowhere. */
static void method_run_task_orphaned(struct call *call)
{
	struct fanout *fan = call->data;

	task_cancel_cmd(&fan->cmds[0]);
}

/* Refuse the call if tasks.max_running calls are running already. */
static int method_run_task_cap(struct call *call)
{
	struct server *srv = call->srv;
	uint64_t max = srv->cfg->tasks_max_running;

	if (srv->tasks_running < max)
		return 0;
	srv->tasks_rejected++;
	call_error(call, "io.reclaim.TooManyTasks",
		   "%zu on-demand tasks are running, the most "
		   "tasks.max_running allows: try again when one ends",
		   srv->tasks_running);
	json_add_u64(call->reply, "max_running", max);
	return -1;
}

/* Why name cannot be run, or NULL; *def set when it exists. */
static const char *method_run_task_find(const char *name,
					const struct rcl_task_def **def)
{
	*def = tasks_find(name);
	if (*def == NULL)
		return "no such task (reclaimctl tasks lists them)";
	if ((*def)->kind == RCL_TASK_REQUEST)
		return "a request task runs on its route, not on demand";
	return NULL;
}

/* The task's budget: tasks.max_bytes, in bytes or a share of the limit in
 * force now. */
static uint64_t method_run_task_budget(struct server *srv)
{
	const struct config_share *sh = &srv->cfg->tasks_max_bytes;

	if (sh->fraction == 0)
		return sh->bytes;
	return (uint64_t)(sh->fraction * (double)memwatch_limit(srv->watch));
}

/* Find the task and hand it to the next worker. */
static enum call_status method_run_task_exec(struct call *call)
{
	static size_t next;
	const struct rcl_task_def *def;
	const char *name, *why;
	struct fanout *fan;
	struct json *args;
	int rc;

	name = call_param_str(call, "task", &rc);
	if (rc < 0 || method_run_task_args(call) < 0)
		return CALL_ERROR;
	if (name == NULL)
		return call_invalid(call, "task", "task is required");
	if ((why = method_run_task_find(name, &def)) != NULL) {
		call_error(call, "io.reclaim.NoSuchTask", "%s: %s", name, why);
		json_add_str(call->reply, "name", name);
		return CALL_ERROR;
	}
	if (call->srv->stopping || call->srv->nworkers == 0)
		return call_error(call, "io.reclaim.ShuttingDown",
				  "reclaimd is stopping");
	if (method_run_task_cap(call) < 0)
		return CALL_ERROR;
	args = json_get(call->params, "args");
	fan = fanout_create(call->srv, call, WCMD_RUN, method_run_task_done);
	if (fan == NULL)
		return call_oom(call);
	fan->n = 1; /* one worker, in turn */
	fan->cmds[0].worker = call->srv->workers[next++ % call->srv->nworkers];
	fan->cmds[0].in.run.def = def;
	fan->cmds[0].in.run.max_bytes = method_run_task_budget(call->srv);
	fan->cmds[0].in.run.progress = call->more && !call->oneway;
	fan->cmds[0].in.run.args =
	    args != NULL && json_type(args) == JSON_OBJECT ? json_copy(args)
							   : json_object();
	if (fan->cmds[0].in.run.args == NULL) {
		fanout_destroy(fan);
		return call_oom(call);
	}
	call->srv->tasks_running++;
	call->orphaned = method_run_task_orphaned;
	call->data = fan;
	fanout_send(fan);
	return CALL_ASYNC;
}

const struct method_entry method_run_task_entry = {
    .name = "io.reclaim.RunTask",
    .params = "(task: string, args: ?[string]string) -> (task: string, "
	      "worker: int, result: ?object, progress: ?Progress)",
    .changes_state = true,
    .exec = method_run_task_exec,
};
