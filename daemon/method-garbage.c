/*
 * Garbage: what the cycle collector reclaimed since the report was last
 * read by a privileged caller (root, the daemon's user, control.group:
 * those who may change state). Reading empties the report only for them;
 * any other caller reads the same report and leaves it whole, so it cannot
 * empty the report an operator was about to read.
 */
#include "reclaimd.h"

/* Every worker handed its report over: merge, sort, reply. */
static void method_garbage_done(struct fanout *fan)
{
	struct json *reply = call_reply(fan->call);
	struct garbage_report r = {0};
	size_t i;

	for (i = 0; i < fan->n; i++)
		garbage_report_merge(&r, &fan->cmds[i].out.garbage);
	garbage_report_sort(&r);
	garbage_report_to_json(&r, reply);
	json_add_bool(reply, "debug_leak", fan->srv->debug_leak);
	garbage_report_finish(&r);
	call_finish(fan->call, CALL_DONE);
	fanout_destroy(fan);
}

/* Take every worker's report, or copy it for an unprivileged caller. */
static enum call_status method_garbage_exec(struct call *call)
{
	bool peek = !control_privileged(call->conn);
	struct fanout *fan;
	size_t i;

	fan = fanout_create(call->srv, call, WCMD_GARBAGE, method_garbage_done);
	if (fan == NULL)
		return call_oom(call);
	for (i = 0; i < fan->n; i++)
		fan->cmds[i].in.peek = peek;
	fanout_send(fan);
	return CALL_ASYNC;
}

const struct method_entry method_garbage_entry = {
    .name = "io.reclaim.Garbage",
    .params = "() -> (types: []GarbageType, cycles: []GarbageCycle, "
	      "collections: int, objects: int, bytes: int, truncated: bool, "
	      "debug_leak: bool)",
    .changes_state = false,
    .exec = method_garbage_exec,
};
