/* Tasks: every registered task, its kind, route or period, and origin. */
#include <reclaimd/task.h>

#include "reclaimd.h"

/* The name of a task kind. */
static const char *method_tasks_kind(enum rcl_task_kind kind)
{
	switch (kind) {
	case RCL_TASK_REQUEST:
		return "request";
	case RCL_TASK_PERIODIC:
		return "periodic";
	default:
		return "on-demand";
	}
}

/* List the tasks, built-in first, then each plugin's. */
static enum call_status method_tasks_exec(struct call *call)
{
	struct json *arr = json_add_array(call_reply(call), "tasks"), *t;
	const struct rcl_task_def *def;
	const char *origin;
	size_t i;

	for (i = 0; (def = tasks_at(i, &origin)) != NULL; i++) {
		t = json_add_object(arr, NULL);
		json_add_str(t, "name", def->name);
		json_add_str(t, "kind", method_tasks_kind(def->kind));
		json_add_str(t, "description",
			     def->description ? def->description : "");
		if (def->kind == RCL_TASK_REQUEST)
			json_add_str(t, "route", def->route);
		if (def->kind == RCL_TASK_PERIODIC)
			json_add_u64(t, "period_ms", def->period_ms);
		json_add_str(t, "origin", origin);
	}
	return CALL_DONE;
}

const struct method_entry method_tasks_entry = {
    .name = "io.reclaim.Tasks",
    .params = "() -> (tasks: []Task)",
    .changes_state = false,
    .exec = method_tasks_exec,
};
