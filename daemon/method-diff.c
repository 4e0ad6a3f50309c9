/* Diff: the types whose objects or bytes rose since the last Snapshot. */
#include "census.h"
#include "reclaimd.h"

/* Every worker answered: compare with the snapshot. */
static void method_diff_done(struct fanout *fan)
{
	struct census_snapshot *snap = &fan->srv->snapshot;
	struct json *reply = call_reply(fan->call);
	enum call_status st = CALL_DONE;
	struct census now;

	if (census_merge(fan, &now) != 0)
		st = call_oom(fan->call);
	json_add_u64(reply, "since_us", snap->when_us);
	census_diff_to_json(&snap->census, &now, reply);
	census_finish(&now);
	call_finish(fan->call, st);
	fanout_destroy(fan);
}

/* Take a census now, unless there is nothing to compare with. */
static enum call_status method_diff_exec(struct call *call)
{
	struct fanout *fan;

	if (!call->srv->snapshot.taken)
		return call_error(call, "io.reclaim.NoSnapshot",
				  "no snapshot yet: run Snapshot first");
	fan = fanout_create(call->srv, call, WCMD_CENSUS, method_diff_done);
	if (fan == NULL)
		return call_oom(call);
	fanout_send(fan);
	return CALL_ASYNC;
}

const struct method_entry method_diff_entry = {
    .name = "io.reclaim.Diff",
    .params = "() -> (since_us: int, types: []TypeDiff)",
    .changes_state = false,
    .exec = method_diff_exec,
};
