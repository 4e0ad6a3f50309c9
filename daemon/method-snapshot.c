/* Snapshot: remember the census now, for Diff to compare against. */
#include "census.h"
#include "reclaimd.h"

/* Every worker answered: keep the merged census. */
static void method_snapshot_done(struct fanout *fan)
{
	struct census_snapshot *snap = &fan->srv->snapshot;
	struct json *reply = call_reply(fan->call);
	enum call_status st = CALL_DONE;
	uint64_t objects, bytes;

	census_finish(&snap->census);
	if (census_merge(fan, &snap->census) != 0)
		st = call_oom(fan->call);
	snap->taken = st == CALL_DONE;
	snap->when_us = now_us();
	census_totals(&snap->census, &objects, &bytes);
	json_add_u64(reply, "types", snap->census.n);
	json_add_u64(reply, "objects", objects);
	json_add_u64(reply, "bytes", bytes);
	json_add_u64(reply, "taken_us", snap->when_us);
	call_finish(fan->call, st);
	fanout_destroy(fan);
}

/* Ask every worker for its census. */
static enum call_status method_snapshot_exec(struct call *call)
{
	struct fanout *fan;

	fan = fanout_create(call->srv, call, WCMD_CENSUS, method_snapshot_done);
	if (fan == NULL)
		return call_oom(call);
	fanout_send(fan);
	return CALL_ASYNC;
}

const struct method_entry method_snapshot_entry = {
    .name = "io.reclaim.Snapshot",
    .params = "() -> (types: int, objects: int, bytes: int, taken_us: int)",
    .changes_state = false,
    .exec = method_snapshot_exec,
};
