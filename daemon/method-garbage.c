/*
 * Garbage: what the cycle collector reclaimed since the report was last
 * read by a privileged caller (root, the daemon's user, control.group:
 * those who may change state). Reading empties the report only for them;
 * any other caller reads the same report and leaves it whole, so it cannot
 * empty the report an operator was about to read.
 */
#include "reclaimd.h"

/* The heaps' site records, summed: {"objects", "sites", "bytes",
 * "unrecorded_total", "max_objects"} (per worker for the last). */
static void method_garbage_record(struct fanout *fan, struct json *reply)
{
	struct json *o = json_add_object(reply, "record");
	rcl_sites_info sum = {0}, *in;
	size_t i;

	for (i = 0; i < fan->n; i++) {
		in = &fan->cmds[i].out.sites;
		sum.objects += in->objects;
		sum.sites += in->sites;
		sum.bytes += in->bytes;
		sum.unrecorded_total += in->unrecorded_total;
		sum.max_objects = in->max_objects;
	}
	json_add_u64(o, "objects", sum.objects);
	json_add_u64(o, "sites", sum.sites);
	json_add_u64(o, "bytes", sum.bytes);
	json_add_u64(o, "unrecorded_total", sum.unrecorded_total);
	json_add_u64(o, "max_objects", sum.max_objects);
}

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
	method_garbage_record(fan, reply);
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
	      "tasks: []GarbageTask, sites: []GarbageSite, "
	      "collections: int, objects: int, bytes: int, truncated: bool, "
	      "debug_leak: bool, record: SiteRecord)",
    .changes_state = false,
    .exec = method_garbage_exec,
};
