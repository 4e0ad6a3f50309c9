/* RunTask: start an on-demand task and answer with its result. */
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

/* Find the task; none are registered until issue 5's runtime. */
static enum call_status method_run_task_exec(struct call *call)
{
	const char *name;
	int rc;

	name = call_param_str(call, "task", &rc);
	if (rc < 0 || method_run_task_args(call) < 0)
		return CALL_ERROR;
	if (name == NULL)
		return call_invalid(call, "task", "task is required");
	call_error(call, "io.reclaim.NoSuchTask", "no task named \"%s\"", name);
	json_add_str(call->reply, "name", name);
	return CALL_ERROR;
}

const struct method_entry method_run_task_entry = {
    .name = "io.reclaim.RunTask",
    .params = "(task: string, args: ?[string]string) -> (result: object)",
    .changes_state = true,
    .exec = method_run_task_exec,
};
