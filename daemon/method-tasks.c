/* Tasks: the on-demand tasks RunTask can start (none before issue 5). */
#include "reclaimd.h"

/* List the tasks. */
static enum call_status method_tasks_exec(struct call *call)
{
	json_add_array(call_reply(call), "tasks");
	return CALL_DONE;
}

const struct method_entry method_tasks_entry = {
    .name = "io.reclaim.Tasks",
    .params = "() -> (tasks: []Task)",
    .changes_state = false,
    .exec = method_tasks_exec,
};
