/*
 * Start an on-demand task and print its result. On a terminal (stderr) the
 * task's progress is drawn on one line of stderr meanwhile, redrawn with \r
 * and erased before the result; with --json each reply is printed, one
 * compact JSON object a line, the progress replies first; piped, the output
 * is the result alone, as it always was.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

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

/* The terminal's width in columns (80 when it will not say). */
static size_t cmd_run_columns(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* Draw a progress reply on stderr's line: "task 42% phase key value...",
 * cut to the terminal's width. */
static void cmd_run_draw(const struct json *reply, void *arg)
{
	struct ctl *ctl = arg;
	const struct json *p = json_get(reply, "progress"), *m;
	const char *phase = json_as_str(json_get(p, "phase"));
	size_t cols = cmd_run_columns(), n = 0;
	char line[512];
	double frac;
	char *s;

	n += (size_t)snprintf(line, sizeof line, "%s",
			      json_as_str(json_get(reply, "task")));
	if (json_as_double(json_get(p, "fraction"), &frac) && n < sizeof line)
		n += (size_t)snprintf(line + n, sizeof line - n, " %3.0f%%",
				      frac * 100);
	if (phase != NULL && n < sizeof line)
		n += (size_t)snprintf(line + n, sizeof line - n, " %s", phase);
	for (m = json_child(json_get(p, "figures")); m && n < sizeof line;
	     m = json_next(m)) {
		s = cmd_run_text(m);
		n += (size_t)snprintf(line + n, sizeof line - n, "  %s %s",
				      json_key(m), s ? s : "?");
		free(s);
	}
	if (cols > sizeof line)
		cols = sizeof line;
	line[cols - 1] = '\0'; /* leave the last column: no wrap */
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	ctl->progress_line = true; /* erased by ctl_call_more */
}

/* A reply as one line of JSON (--json). */
static void cmd_run_json_line(const struct json *reply, void *arg)
{
	char *s = json_print(reply, false);

	(void)arg;
	puts(s ? s : "null");
	fflush(stdout);
	free(s);
}

/* Call RunTask: progress drawn on a terminal, each reply a line with
 * --json, the result alone otherwise (no "more" asked). */
static int cmd_run_call(struct ctl *ctl, const struct json *params)
{
	bool draw = !ctl->json && isatty(STDERR_FILENO);
	struct json *reply;
	int rc;

	rc = ctl_call_more(ctl, "io.reclaim.RunTask", params,
			   ctl->json ? cmd_run_json_line
			   : draw    ? cmd_run_draw
				     : NULL,
			   ctl, &reply);
	if (rc != CTL_OK)
		return rc;
	if (ctl->json)
		cmd_run_json_line(reply, NULL);
	else
		rc = cmd_run_human(reply);
	json_destroy(reply);
	return rc;
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
	rc = cmd_run_call(ctl, params);
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
