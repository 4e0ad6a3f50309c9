/* List the on-demand tasks that run can start. */
#include "reclaimctl.h"

/* Human output of a Tasks reply. */
static int cmd_tasks_human(const struct json *reply)
{
	static const char *const headers[] = {"TASK", "KIND", "ROUTE/PERIOD",
					      "DESCRIPTION"};
	struct json *tasks = json_get(reply, "tasks"), *t;
	struct table *tab;
	size_t i;

	if (json_size(tasks) == 0) {
		puts("no tasks");
		return CTL_OK;
	}
	tab = table_create(4, headers);
	for (i = 0; i < json_size(tasks); i++) {
		t = json_at(tasks, i);
		table_add(tab, "%s", json_as_str(json_get(t, "name")));
		table_add(tab, "%s", json_as_str(json_get(t, "kind")));
		if (json_get(t, "route") != NULL)
			table_add(tab, "%s", json_as_str(json_get(t, "route")));
		else if (json_get(t, "period_ms") != NULL)
			table_add(tab, "every %llu ms",
				  (unsigned long long)json_u64(
				      json_get(t, "period_ms")));
		else
			table_add(tab, "-");
		table_add(tab, "%s", json_as_str(json_get(t, "description")));
	}
	table_print(tab, stdout);
	table_destroy(tab);
	return CTL_OK;
}

/* tasks */
static int cmd_tasks_exec(struct ctl *ctl, int argc, char **argv)
{
	return ctl_simple(ctl, "io.reclaim.Tasks", NULL, cmd_tasks_human);
}

const struct cmd_entry cmd_tasks_entry = {
    .name = "tasks",
    .usage = "",
    .help = "the tasks run can start",
    .min_args = 0,
    .max_args = 0,
    .exec = cmd_tasks_exec,
};
