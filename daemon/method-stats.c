/* Stats: the stats snapshot, in total and per worker (as GET /metrics). */
#include "reclaimd.h"

/* Render the snapshot, plus the collector settings in force. */
static enum call_status method_stats_exec(struct call *call)
{
	struct server *srv = call->srv;
	struct stats_snapshot s;
	struct json *arr;
	int g;

	server_stats(srv, &s);
	json_destroy(call->reply);
	call->reply = stats_to_json(&s);
	stats_finish(&s);
	arr = json_add_array(json_get(call->reply, "heap"), "thresholds");
	for (g = 0; g < RCL_GENERATIONS; g++)
		json_add_u64(arr, NULL, srv->thresholds[g]);
	json_add_u64(json_get(call->reply, "heap"), "young_bytes",
		     srv->young_bytes);
	json_add_bool(json_add_object(call->reply, "debug"), "leak",
		      srv->debug_leak);
	return CALL_DONE;
}

const struct method_entry method_stats_entry = {
    .name = "io.reclaim.Stats",
    .params = "() -> (process: object, limit: object, heap: object, "
	      "watchdog: object, http: object, workers: []object, "
	      "debug: object)",
    .changes_state = false,
    .exec = method_stats_exec,
};
