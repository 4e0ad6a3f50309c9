/*
 * Dispatch: find the method in method_table, check its parameters and the
 * peer's right to call it, run its handler, and answer through one helper.
 * Every failure reaches the client as a varlink error; none drops the
 * connection.
 *
 * Out of memory: whatever a call fails to allocate (its error, its reply,
 * the encoding), call_oom marks it and call_finish sends method_oom_reply,
 * static text that needs no allocation; only if the transport cannot queue
 * even that is the connection closed (control.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reclaimd.h"
#include "varlink.h"

extern const struct method_entry method_census_entry;
extern const struct method_entry method_collect_entry;
extern const struct method_entry method_diff_entry;
extern const struct method_entry method_garbage_entry;
extern const struct method_entry method_get_info_entry;
extern const struct method_entry method_get_interface_description_entry;
extern const struct method_entry method_reload_entry;
extern const struct method_entry method_run_task_entry;
extern const struct method_entry method_set_debug_entry;
extern const struct method_entry method_set_thresholds_entry;
extern const struct method_entry method_snapshot_entry;
extern const struct method_entry method_stats_entry;
extern const struct method_entry method_tasks_entry;
extern const struct method_entry method_watchdog_entry;

/* Keep sorted by name (strcmp): looked up with bsearch. */
const struct method_entry *const method_table[] = {
    &method_census_entry,    &method_collect_entry,
    &method_diff_entry,	     &method_garbage_entry,
    &method_reload_entry,    &method_run_task_entry,
    &method_set_debug_entry, &method_set_thresholds_entry,
    &method_snapshot_entry,  &method_stats_entry,
    &method_tasks_entry,     &method_watchdog_entry,
    &method_get_info_entry,  &method_get_interface_description_entry,
};
const size_t method_count = sizeof method_table / sizeof method_table[0];

/* The part of the interface description that is not a method. */
static const char method_interface_head[] =
    "# reclaim: managed heaps, their cycle collector and the memory "
    "watchdog.\n"
    "interface io.reclaim\n"
    "\n"
    "type WorkerCollect (id: int, collected: int, pause_ns: int)\n"
    "type TypeCount (type: string, objects: int, bytes: int)\n"
    "type TypeDiff (type: string, objects: int, bytes: int, "
    "objects_delta: int, bytes_delta: int)\n"
    "type Task (name: string, kind: string, description: string, "
    "route: ?string, period_ms: ?int, origin: string)\n"
    "type GarbageType (type: string, count: int, bytes: int)\n"
    "type GarbageCycle (path: string, count: int, length: int)\n"
    "# RunTask's replies that continue (\"more\": true): how far the task\n"
    "# is (fraction from 0 to 1, when it knows), its phase, figures so far.\n"
    "type Progress (fraction: ?float, phase: ?string, figures: ?object)\n"
    "# Garbage by the task that made it (a route, a name, or none).\n"
    "type GarbageTask (task: string, type: string, count: int, bytes: int)\n"
    "# A cycle's members by the rcl_new() call that made them.\n"
    "type GarbageSite (cycle: string, task: string, type: string,\n"
    "  file: string, line: int, function: string, count: int)\n"
    "# Live objects by the rcl_new() call that made them and their task\n"
    "# (Census, Diff), while leak debugging records sites.\n"
    "type SiteCount (type: string, task: string, file: string, line: int,\n"
    "  function: string, objects: int, bytes: int)\n"
    "type SiteDiff (type: string, task: string, file: string, line: int,\n"
    "  function: string, objects: int, bytes: int, objects_delta: int,\n"
    "  bytes_delta: int)\n"
    "# The heaps' record of allocation sites while leak debugging is on.\n"
    "type SiteRecord (objects: int, sites: int, bytes: int,\n"
    "  unrecorded_total: int, max_objects: int)\n"
    "# sites: where the survivors were made, while leak debugging\n"
    "# records sites (the three with the most).\n"
    "type LeakSuspect (type: string, first: int, last: int,\n"
    "  sites: []SuspectSite)\n"
    "type SuspectSite (file: string, line: int, function: string,\n"
    "  task: string, objects: int)\n"
    "# What the workers' heaps refused, and did first (Watchdog).\n"
    "type Admission (heaps: int, estimate_bytes: int, refused_total: int,\n"
    "  refused_bytes_total: int, collections_total: int,\n"
    "  readings_total: int)\n"
    "# Where memory goes (Watchdog): resident memory, what the heaps account\n"
    "# for, the rest; the watched cgroup's memory.stat broken down.\n"
    "type Memory (rss_bytes: int, heaps_bytes: int, unaccounted_bytes: int,\n"
    "  cgroup_anon_bytes: int, cgroup_file_bytes: int,\n"
    "  cgroup_kernel_bytes: int)\n"
    "\n";

static const char method_interface_errors[] =
    "\n"
    "# The caller may not change state (SO_PEERCRED).\n"
    "error PermissionDenied (method: string, reason: string)\n"
    "# The message is not a varlink call, or is too large.\n"
    "error InvalidRequest (reason: string)\n"
    "error NoSuchTask (name: string, reason: string)\n"
    "# An on-demand task ended with an error.\n"
    "error TaskFailed (name: string, reason: string)\n"
    "# tasks.max_running on-demand tasks are running already.\n"
    "error TooManyTasks (max_running: int, reason: string)\n"
    "error NoSnapshot (reason: string)\n"
    "error ConfigError (reason: string)\n"
    "error NotImplemented (reason: string)\n"
    "error ShuttingDown (reason: string)\n"
    "# reclaimd ran out of memory answering; it keeps serving.\n"
    "error OutOfMemory (reason: string)\n";

/* The answer to a call that ran out of memory: built without allocating. */
static const char method_oom_reply[] =
    "{\"error\":\"io.reclaim.OutOfMemory\",\"parameters\":{\"reason\":"
    "\"reclaimd is out of memory\"}}";

/* bsearch's comparison of a name and an entry. */
static int method_cmp(const void *key, const void *elem)
{
	const struct method_entry *const *e = elem;

	return strcmp(key, (*e)->name);
}

/* The entry for a full method name, or NULL. */
static const struct method_entry *method_find(const char *name)
{
	const struct method_entry *const *e;

	e = bsearch(name, method_table, method_count, sizeof method_table[0],
		    method_cmp);
	return e ? *e : NULL;
}

/* Whether name is one of the parameters in the entry's signature. */
static bool method_has_param(const struct method_entry *e, const char *name)
{
	const char *p = e->params + 1;
	size_t n = strlen(name);
	int depth = 0;

	while (*p != '\0' && !(depth == 0 && *p == ')')) {
		while (*p == ' ' || *p == ',')
			p++;
		if (strncmp(p, name, n) == 0 && p[n] == ':')
			return true;
		for (; *p != '\0'; p++) {
			depth += (*p == '(') - (*p == ')');
			if (depth < 0 || (depth == 0 && *p == ','))
				break;
		}
		if (depth < 0)
			break;
	}
	return false;
}

/* The first parameter the method does not take, or NULL. */
static const char *method_unknown_param(const struct method_entry *e,
					const struct json *params)
{
	struct json *p;

	for (p = json_child(params); p != NULL; p = json_next(p)) {
		if (!method_has_param(e, json_key(p)))
			return json_key(p);
	}
	return NULL;
}

/* Set the error and its reason; the handler returns what this returns. */
static enum call_status call_verror(struct call *call, const char *error,
				    const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static enum call_status call_verror(struct call *call, const char *error,
				    const char *fmt, va_list ap)
{
	char *reason;

	if (vasprintf(&reason, fmt, ap) < 0)
		reason = NULL;
	free(call->error);
	call->error = strdup(error);
	json_destroy(call->reply);
	call->reply = json_object();
	json_add_str(call->reply, "reason", reason);
	if (call->error == NULL || call->reply == NULL || reason == NULL)
		call_oom(call);
	free(reason);
	return CALL_ERROR;
}

/* The call ran out of memory: answer io.reclaim.OutOfMemory instead. */
enum call_status call_oom(struct call *call)
{
	call->oom = true;
	return CALL_ERROR;
}

/* Answer with error and a reason: the one way errors reach a client. */
enum call_status call_error(struct call *call, const char *error,
			    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	call_verror(call, error, fmt, ap);
	va_end(ap);
	return CALL_ERROR;
}

/* Answer org.varlink.service.InvalidParameter for param. */
enum call_status call_invalid(struct call *call, const char *param,
			      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	call_verror(call, "org.varlink.service.InvalidParameter", fmt, ap);
	va_end(ap);
	json_add_str(call->reply, "parameter", param);
	return CALL_ERROR;
}

/* The reply's parameters, to fill. */
struct json *call_reply(struct call *call)
{
	if (call->reply == NULL && (call->reply = json_object()) == NULL)
		call_oom(call);
	return call->reply;
}

/* An optional integer parameter up to max: 1 set, 0 absent, -1 bad. */
int call_param_u64(struct call *call, const char *name, uint64_t max,
		   uint64_t *out)
{
	struct json *v = json_get(call->params, name);

	if (v == NULL || json_type(v) == JSON_NULL)
		return 0;
	if (!json_as_u64(v, out) || *out > max) {
		call_invalid(call, name, "%s must be an integer from 0 to %llu",
			     name, (unsigned long long)max);
		return -1;
	}
	return 1;
}

/* An optional boolean parameter: 1 set, 0 absent, -1 bad. */
int call_param_bool(struct call *call, const char *name, bool *out)
{
	struct json *v = json_get(call->params, name);

	if (v == NULL || json_type(v) == JSON_NULL)
		return 0;
	if (!json_as_bool(v, out)) {
		call_invalid(call, name, "%s must be a boolean", name);
		return -1;
	}
	return 1;
}

/* An optional string parameter; *status as for call_param_u64. */
const char *call_param_str(struct call *call, const char *name, int *status)
{
	struct json *v = json_get(call->params, name);
	const char *s;

	*status = 0;
	if (v == NULL || json_type(v) == JSON_NULL)
		return NULL;
	s = json_as_str(v);
	if (s == NULL) {
		call_invalid(call, name, "%s must be a string", name);
		*status = -1;
		return NULL;
	}
	*status = 1;
	return s;
}

/* Send the answer (unless oneway or the peer left) and free the call. */
void call_finish(struct call *call, enum call_status status)
{
	struct conn *conn = call->conn;
	char *text = NULL;

	if (conn != NULL && !call->oneway) {
		if (!call->oom)
			text = varlink_encode_reply(call->reply, call->error,
						    false);
		if (text == NULL)
			log_warn("control: out of memory answering %s",
				 call->entry ? call->entry->name : "a call");
		control_send(conn, text ? text : method_oom_reply);
		free(text);
	}
	if (call->async && conn != NULL)
		control_call_done(conn);
	json_destroy(call->params);
	json_destroy(call->reply);
	free(call->error);
	free(call);
}

/* One reply of several (marked "continues") to a call made with "more",
 * before call_finish's last one. Dropped, as it may be, when the call did not
 * ask for more, the peer left, is not reading (control_backlogged), or
 * memory is short: the last reply still comes. */
void call_continue(struct call *call, const struct json *params)
{
	char *text;

	if (call->conn == NULL || call->oneway || !call->more ||
	    control_backlogged(call->conn))
		return;
	text = varlink_encode_reply(params, NULL, true);
	if (text != NULL)
		control_send(call->conn, text);
	free(text);
}

/* The peer went away: the answer, when it comes, goes nowhere, and the
 * handler may stop the work (RunTask cancels its task). */
void call_orphan(struct call *call)
{
	call->conn = NULL;
	if (call->orphaned != NULL)
		call->orphaned(call);
	call->orphaned = NULL;
}

/* Errors for a method that is not in the table. */
static enum call_status method_not_found(struct call *call, const char *name)
{
	const char *dot = strrchr(name, '.');
	size_t n = dot ? (size_t)(dot - name) : 0;
	char *iface;

	if (strncmp(name, "io.reclaim.", 11) == 0 ||
	    strncmp(name, "org.varlink.service.", 20) == 0 || dot == NULL) {
		call_error(call, "org.varlink.service.MethodNotFound",
			   "no method %s", name);
		json_add_str(call->reply, "method", name);
		return CALL_ERROR;
	}
	iface = strndup(name, n);
	if (iface == NULL)
		return call_oom(call);
	call_error(call, "org.varlink.service.InterfaceNotFound",
		   "no interface %s", iface);
	json_add_str(call->reply, "interface", iface);
	free(iface);
	return CALL_ERROR;
}

/* Check the call against its entry, then run the handler. */
static enum call_status method_run(struct call *call, const char *name)
{
	const struct method_entry *e = method_find(name);
	const char *bad;

	if (e == NULL)
		return method_not_found(call, name);
	call->entry = e;
	bad = method_unknown_param(e, call->params);
	if (bad != NULL)
		return call_invalid(call, bad, "%s takes no parameter %s",
				    e->name, bad);
	if (e->changes_state && !control_privileged(call->conn)) {
		log_ratelimited(LOG_NOTICE, "control: refused %s to uid %d",
				e->name, (int)control_peer_uid(call->conn));
		call_error(call, "io.reclaim.PermissionDenied",
			   "%s changes state: only root, the daemon's user or "
			   "control.group may call it",
			   e->name);
		json_add_str(call->reply, "method", e->name);
		return CALL_ERROR;
	}
	if (call->srv->stopping)
		return call_error(call, "io.reclaim.ShuttingDown",
				  "reclaimd is shutting down");
	return e->exec(call);
}

/* A message from a peer: parse it, run it, answer it (now or later). */
void method_dispatch(struct server *srv, struct conn *conn, const char *text)
{
	struct call *call = calloc(1, sizeof *call);
	struct varlink_msg m;
	enum call_status status;
	char *cause = NULL;

	if (call == NULL) {
		control_send(conn, method_oom_reply);
		return;
	}
	call->srv = srv;
	call->conn = conn;
	if (varlink_parse_call(text, &m, &cause) != 0) {
		call->params = json_object();
		if (cause == NULL || call->params == NULL)
			status = call_oom(call);
		else
			status = call_error(call, "io.reclaim.InvalidRequest",
					    "%s", cause);
		free(cause);
		call_finish(call, status);
		return;
	}
	call->oneway = m.oneway;
	call->more = m.more;
	call->params = m.params ? json_copy(m.params) : json_object();
	if (call->params == NULL)
		status = call_oom(call);
	else
		status = method_run(call, m.method);
	varlink_msg_finish(&m);
	if (status == CALL_ASYNC) {
		call->async = true;
		control_hold(conn, call);
		return;
	}
	call_finish(call, status);
}

/* The io.reclaim interface description, methods from the table; NULL if
 * out of memory. */
char *method_interface_description(void)
{
	size_t len = sizeof method_interface_head +
		     sizeof method_interface_errors,
	       i;
	char *s, *p;

	for (i = 0; i < method_count; i++)
		len += strlen(method_table[i]->name) +
		       strlen(method_table[i]->params) + 16;
	s = p = malloc(len);
	if (s == NULL)
		return NULL;
	p += sprintf(p, "%s", method_interface_head);
	for (i = 0; i < method_count; i++) {
		if (strncmp(method_table[i]->name, "io.reclaim.", 11) != 0)
			continue;
		p += sprintf(p, "method %s%s\n", method_table[i]->name + 11,
			     method_table[i]->params);
	}
	sprintf(p, "%s", method_interface_errors);
	return s;
}
