/*
 * SetDebug: turn leak debugging on or off. Each worker attaches the
 * collector's observer to its heap (forensics.c) while it is on, and
 * detaches it when off, so it costs nothing then; Garbage reads the report.
 */
#include "reclaimd.h"

/* Every worker took the flag, or one ran out of memory turning it on. */
static void method_set_debug_done(struct fanout *fan)
{
	enum call_status st = CALL_DONE;
	size_t i;

	json_add_bool(call_reply(fan->call), "leak", fan->srv->debug_leak);
	for (i = 0; i < fan->n; i++) {
		if (fan->cmds[i].out.oom)
			st = call_oom(fan->call);
	}
	call_finish(fan->call, st);
	fanout_destroy(fan);
}

/* Store the flag and hand it to every worker. */
static enum call_status method_set_debug_exec(struct call *call)
{
	struct fanout *fan;
	bool leak;
	size_t i;
	int rc;

	rc = call_param_bool(call, "leak", &leak);
	if (rc < 0)
		return CALL_ERROR;
	if (rc == 0)
		return call_invalid(call, "leak", "leak is required");
	call->srv->debug_leak = leak;
	log_info("leak debugging %s", leak ? "on" : "off");
	fan = fanout_create(call->srv, call, WCMD_DEBUG, method_set_debug_done);
	if (fan == NULL)
		return call_oom(call);
	for (i = 0; i < fan->n; i++)
		fan->cmds[i].in.leak = leak;
	fanout_send(fan);
	return CALL_ASYNC;
}

const struct method_entry method_set_debug_entry = {
    .name = "io.reclaim.SetDebug",
    .params = "(leak: bool) -> (leak: bool)",
    .changes_state = true,
    .exec = method_set_debug_exec,
};
