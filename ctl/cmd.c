/* The command table and what every command shares: calling, errors, JSON. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "reclaimctl.h"
#include "xmalloc.h"

extern const struct cmd_entry cmd_census_entry;
extern const struct cmd_entry cmd_collect_entry;
extern const struct cmd_entry cmd_debug_entry;
extern const struct cmd_entry cmd_diff_entry;
extern const struct cmd_entry cmd_garbage_entry;
extern const struct cmd_entry cmd_reload_entry;
extern const struct cmd_entry cmd_run_entry;
extern const struct cmd_entry cmd_snapshot_entry;
extern const struct cmd_entry cmd_stats_entry;
extern const struct cmd_entry cmd_tasks_entry;
extern const struct cmd_entry cmd_thresholds_entry;
extern const struct cmd_entry cmd_top_entry;
extern const struct cmd_entry cmd_watchdog_entry;

/* Keep alphabetized: looked up with bsearch. */
const struct cmd_entry *const cmd_table[] = {
    &cmd_census_entry,	 &cmd_collect_entry,	&cmd_debug_entry,
    &cmd_diff_entry,	 &cmd_garbage_entry,	&cmd_reload_entry,
    &cmd_run_entry,	 &cmd_snapshot_entry,	&cmd_stats_entry,
    &cmd_tasks_entry,	 &cmd_thresholds_entry, &cmd_top_entry,
    &cmd_watchdog_entry,
};
const size_t cmd_count = sizeof cmd_table / sizeof cmd_table[0];

/* bsearch's comparison of a name and an entry. */
static int cmd_cmp(const void *key, const void *elem)
{
	const struct cmd_entry *const *e = elem;

	return strcmp(key, (*e)->name);
}

/* The command called name, or NULL. */
const struct cmd_entry *cmd_find(const char *name)
{
	const struct cmd_entry *const *e;

	e = bsearch(name, cmd_table, cmd_count, sizeof cmd_table[0], cmd_cmp);
	return e ? *e : NULL;
}

/* One line on stderr for a usage error; exit status 2. */
int ctl_usage(struct ctl *ctl, const char *fmt, ...)
{
	va_list ap;

	fputs("reclaimctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (ctl->cmd != NULL)
		fprintf(stderr, " (usage: reclaimctl %s%s%s)", ctl->cmd->name,
			*ctl->cmd->usage ? " " : "", ctl->cmd->usage);
	fputc('\n', stderr);
	return CTL_USAGE;
}

/* Print a value as indented JSON on stdout. */
int ctl_print_json(const struct json *j)
{
	char *s = json_print(j, true);

	puts(s ? s : "null");
	free(s);
	return CTL_OK;
}

/* Report an error reply on one line; exit status 1. */
static int ctl_daemon_error(const char *error, const struct json *reply)
{
	const char *reason = json_as_str(json_get(reply, "reason"));
	const char *param = json_as_str(json_get(reply, "parameter"));

	if (param != NULL)
		fprintf(stderr, "reclaimctl: %s: %s: %s\n", error, param,
			reason ? reason : "invalid");
	else
		fprintf(stderr, "reclaimctl: %s%s%s\n", error,
			reason ? ": " : "", reason ? reason : "");
	return CTL_DAEMON_ERROR;
}

/* Call method; CTL_OK with *reply, else the exit status (already told). */
int ctl_call(struct ctl *ctl, const char *method, const struct json *params,
	     struct json **reply)
{
	return ctl_call_more(ctl, method, params, NULL, NULL, reply);
}

/* Erase the progress line drawn on stderr, if any, before what follows. */
void ctl_erase_progress(struct ctl *ctl)
{
	if (!ctl->progress_line)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	ctl->progress_line = false;
}

/* As ctl_call; with each, asking for more replies (client_call_more). */
int ctl_call_more(struct ctl *ctl, const char *method,
		  const struct json *params, client_each each, void *arg,
		  struct json **reply)
{
	char *cause = NULL, *error = NULL;
	int rc;

	*reply = NULL;
	if (ctl->client == NULL)
		ctl->client = client_connect(ctl->socket, &cause);
	if (ctl->client != NULL && ctl->timeout_ms != 0)
		client_set_timeout(ctl->client, ctl->timeout_ms);
	if (ctl->client == NULL ||
	    client_call_more(ctl->client, method, params, each, arg, reply,
			     &error, &cause) != 0) {
		ctl_erase_progress(ctl);
		fprintf(stderr, "reclaimctl: cannot reach reclaimd at %s: %s\n",
			ctl->socket, cause);
		free(cause);
		return CTL_UNREACHABLE;
	}
	ctl_erase_progress(ctl);
	if (error == NULL)
		return CTL_OK;
	rc = ctl_daemon_error(error, *reply);
	free(error);
	json_destroy(*reply);
	*reply = NULL;
	return rc;
}

/* Call, then print the reply as JSON or through human. */
int ctl_simple(struct ctl *ctl, const char *method, const struct json *params,
	       int (*human)(const struct json *reply))
{
	struct json *reply;
	int rc;

	rc = ctl_call(ctl, method, params, &reply);
	if (rc != CTL_OK)
		return rc;
	rc = ctl->json ? ctl_print_json(reply) : human(reply);
	json_destroy(reply);
	return rc;
}
