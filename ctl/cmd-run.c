/* Start an on-demand task and print its result. */
#include <stdlib.h>
#include <string.h>

#include "reclaimctl.h"

/* Print one result member as "key value". */
static void cmd_run_member(const struct json *m)
{
	char *s;

	if (json_type(m) == JSON_STRING) {
		kv_print(json_key(m), "%s", json_as_str(m));
		return;
	}
	s = json_print(m, false);
	kv_print(json_key(m), "%s", s ? s : "?");
	free(s);
}

/* Human output of a RunTask reply. */
static int cmd_run_human(const struct json *reply)
{
	struct json *m;

	for (m = json_child(json_get(reply, "result")); m; m = json_next(m))
		cmd_run_member(m);
	return CTL_OK;
}

/* run TASK [key=value...] */
static int cmd_run_exec(struct ctl *ctl, int argc, char **argv)
{
	struct json *params = json_object(), *args;
	char *eq;
	int i, rc;

	json_add_str(params, "task", argv[0]);
	args = json_add_object(params, "args");
	for (i = 1; i < argc; i++) {
		eq = strchr(argv[i], '=');
		if (eq == NULL || eq == argv[i]) {
			json_destroy(params);
			return ctl_usage(ctl,
					 "run: expected key=value, not "
					 "\"%s\"",
					 argv[i]);
		}
		*eq = '\0';
		json_add_str(args, argv[i], eq + 1);
		*eq = '=';
	}
	rc = ctl_simple(ctl, "io.reclaim.RunTask", params, cmd_run_human);
	json_destroy(params);
	return rc;
}

const struct cmd_entry cmd_run_entry = {
    .name = "run",
    .usage = "TASK [key=value...]",
    .help = "run an on-demand task and print its result",
    .min_args = 1,
    .max_args = 64,
    .exec = cmd_run_exec,
};
