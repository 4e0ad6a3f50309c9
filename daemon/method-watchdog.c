/* Watchdog: the memory watchdog's view: usage, limit, levels. */
#include "reclaimd.h"

/* Report what the watchdog sees now. */
static enum call_status method_watchdog_exec(struct call *call)
{
	struct json *reply = call_reply(call);
	struct memwatch_status ws;

	memwatch_status(call->srv->watch, &ws);
	json_add_bool(reply, "enabled", ws.enabled);
	json_add_str(reply, "level", ws.level);
	json_add_u64(reply, "rss_bytes", ws.rss_bytes);
	json_add_u64(reply, "limit_bytes", ws.limit_bytes);
	json_add_str(reply, "limit_source", ws.limit_source);
	json_add_u64(reply, "soft_bytes", ws.soft_bytes);
	json_add_u64(reply, "hard_bytes", ws.hard_bytes);
	json_add_u64(reply, "forced_collections_total",
		     ws.forced_collections_total);
	return CALL_DONE;
}

const struct method_entry method_watchdog_entry = {
    .name = "io.reclaim.Watchdog",
    .params = "() -> (enabled: bool, level: string, rss_bytes: int, "
	      "limit_bytes: int, limit_source: string, soft_bytes: int, "
	      "hard_bytes: int, forced_collections_total: int)",
    .changes_state = false,
    .exec = method_watchdog_exec,
};
