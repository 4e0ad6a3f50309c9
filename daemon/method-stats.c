/*
 * Stats: the stats snapshot, in total and per worker (as GET /metrics), and
 * with history: N the last N seconds of the history ring (at most 600).
 */
#include "reclaimd.h"

/* Render the snapshot as GET /metrics does, with history if asked. */
static enum call_status method_stats_exec(struct call *call)
{
	struct server *srv = call->srv;
	uint64_t history = 0;

	if (call_param_u64(call, "history", HISTORY_SECONDS, &history) < 0)
		return CALL_ERROR;
	json_destroy(call->reply);
	call->reply = metrics_stats_json(srv);
	if (call->reply == NULL)
		return call_oom(call);
	if (history > 0)
		history_to_json(srv->history, (size_t)history, call->reply);
	return CALL_DONE;
}

/* The output names each section stats_to_json makes (common/stats.h's
 * groups, then workers, cgroup and debug): a section added is declared here,
 * or tests/varlink-peer finds a key the IDL lacks. */
const struct method_entry method_stats_entry = {
    .name = "io.reclaim.Stats",
    .params =
	"(history: ?int) -> (process: object, limit: object, heap: object, "
	"watchdog: object, http: object, tasks: object, forensics: object, "
	"garbage: object, workers: []object, cgroup: object, debug: object, "
	"history: ?object)",
    .changes_state = false,
    .exec = method_stats_exec,
};
