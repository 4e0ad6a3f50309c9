/* Start an on-demand task and print its result. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reclaimctl.h"

/* A scalar as text: strings as they are, whole numbers plainly, other
 * numbers with three decimals. */
static char *cmd_run_text(const struct json *v)
{
	double d;
	char *s;

	if (json_type(v) == JSON_STRING)
		return strdup(json_as_str(v));
	if (json_type(v) == JSON_NUMBER && json_as_double(v, &d) &&
	    d != (double)(long long)d && asprintf(&s, "%.3f", d) >= 0)
		return s;
	return json_print(v, false);
}

/* Whether m is a non-empty array of objects (printed as a table). */
static bool cmd_run_rows(const struct json *m)
{
	return json_type(m) == JSON_ARRAY && json_size(m) > 0 &&
	       json_type(json_at(m, 0)) == JSON_OBJECT;
}

/* An array of objects as a table, columns from the first object's keys. */
static void cmd_run_table(const struct json *arr)
{
	const char *headers[16];
	struct json *k;
	struct table *tab;
	size_t n = 0, i, c;
	char *s;

	for (k = json_child(json_at(arr, 0)); k && n < 16; k = json_next(k))
		headers[n++] = json_key(k);
	tab = table_create(n, headers);
	for (c = 0; c < n; c++)
		table_right(tab, c);
	for (i = 0; i < json_size(arr); i++) {
		for (c = 0; c < n; c++) {
			s = cmd_run_text(json_get(json_at(arr, i), headers[c]));
			table_add(tab, "%s", s ? s : "");
			free(s);
		}
	}
	table_print(tab, stdout);
	table_destroy(tab);
}

/* Human output of a RunTask reply: "key value" lines, then each array of
 * objects (tree's rounds) as a table. */
static int cmd_run_human(const struct json *reply)
{
	struct json *res = json_get(reply, "result"), *m;
	char *s;

	for (m = json_child(res); m; m = json_next(m)) {
		if (cmd_run_rows(m))
			continue;
		s = cmd_run_text(m);
		kv_print(json_key(m), "%s", s ? s : "?");
		free(s);
	}
	for (m = json_child(res); m; m = json_next(m)) {
		if (!cmd_run_rows(m))
			continue;
		printf("\n");
		cmd_run_table(m);
	}
	return CTL_OK;
}

/* run TASK [key=value...]: waits for the task however long it runs (churn
 * may run an hour); interrupted, reclaimctl hangs up, and reclaimd cancels
 * the task. */
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
	ctl->timeout_ms = -1;
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
