/* Diff: the types whose objects or bytes rose since the caller's last
 * Snapshot (each caller has its own: method-snapshot.c). */
#include <stdint.h>

#include "census.h"
#include "reclaimd.h"

/* The error for a caller with no snapshot. */
static enum call_status method_diff_none(struct call *call)
{
	return call_error(call, "io.reclaim.NoSnapshot",
			  "no snapshot yet: run Snapshot first");
}

/* Every worker answered: compare with the caller's snapshot. */
static void method_diff_done(struct fanout *fan)
{
	struct census_snapshot *snap;
	struct json *reply;
	enum call_status st = CALL_DONE;
	struct census now;

	snap = snapshot_find(fan->srv, (uint64_t)(uintptr_t)fan->arg);
	if (census_merge(fan, &now) != 0)
		st = call_oom(fan->call);
	else if (snap == NULL) /* others' snapshots pushed it out meanwhile */
		st = method_diff_none(fan->call);
	if (st == CALL_DONE) {
		reply = call_reply(fan->call);
		json_add_u64(reply, "since_us", snap->when_us);
		census_diff_to_json(&snap->census, &now, reply);
	}
	census_finish(&now);
	call_finish(fan->call, st);
	fanout_destroy(fan);
}

/* Take a census now, unless the caller has nothing to compare with. */
static enum call_status method_diff_exec(struct call *call)
{
	uint64_t key = snapshot_key(call);

	if (snapshot_find(call->srv, key) == NULL)
		return method_diff_none(call);
	return census_call(call, method_diff_done, key);
}

const struct method_entry method_diff_entry = {
    .name = "io.reclaim.Diff",
    .params = "() -> (since_us: int, types: []TypeDiff, sites: []SiteDiff)",
    .changes_state = false,
    .exec = method_diff_exec,
};
