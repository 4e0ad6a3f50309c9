/* SetThresholds: the collector's count thresholds and byte trigger. */
#include <string.h>

#include "reclaimd.h"

/* young_bytes from 0 to this: SIZE_MAX was named as the maximum, but a JSON
 * number that large reads as 2^64 and was refused. */
#define YOUNG_BYTES_MAX                                                        \
	(JSON_INT_MAX < SIZE_MAX ? JSON_INT_MAX : (uint64_t)SIZE_MAX)

/* Every worker took them: answer with what is in force. */
static void method_set_thresholds_done(struct fanout *fan)
{
	struct json *reply = call_reply(fan->call), *arr;
	int g;

	arr = json_add_array(reply, "thresholds");
	for (g = 0; g < RCL_GENERATIONS; g++)
		json_add_u64(arr, NULL, fan->srv->thresholds[g]);
	json_add_u64(reply, "young_bytes", fan->srv->young_bytes);
	call_finish(fan->call, CALL_DONE);
	fanout_destroy(fan);
}

/* Read the thresholds parameter: three non-negative integers. */
static int method_set_thresholds_read(struct call *call,
				      size_t out[RCL_GENERATIONS])
{
	struct json *arr = json_get(call->params, "thresholds");
	uint64_t v;
	int g;

	if (arr == NULL || json_type(arr) == JSON_NULL)
		return 0;
	if (json_type(arr) != JSON_ARRAY || json_size(arr) != RCL_GENERATIONS)
		goto bad;
	for (g = 0; g < RCL_GENERATIONS; g++) {
		if (!json_as_u64(json_at(arr, (size_t)g), &v) || v > UINT32_MAX)
			goto bad;
		out[g] = (size_t)v;
	}
	return 1;
bad:
	call_invalid(call, "thresholds",
		     "thresholds must be three integers such as [700, 10, 10]");
	return -1;
}

/* Change the thresholds, the byte trigger or both, on every worker. */
static enum call_status method_set_thresholds_exec(struct call *call)
{
	struct server *srv = call->srv;
	size_t thr[RCL_GENERATIONS];
	uint64_t young = srv->young_bytes;
	int rc;

	memcpy(thr, srv->thresholds, sizeof thr);
	if ((rc = method_set_thresholds_read(call, thr)) < 0 ||
	    call_param_u64(call, "young_bytes", YOUNG_BYTES_MAX, &young) < 0)
		return CALL_ERROR;
	if (thresholds_set(srv, call, thr, (size_t)young, srv->incremental,
			   srv->increment_objects,
			   method_set_thresholds_done) != 0)
		return call_oom(call);
	memwatch_pace(srv->watch, srv->young_bytes);
	return CALL_ASYNC;
}

const struct method_entry method_set_thresholds_entry = {
    .name = "io.reclaim.SetThresholds",
    .params = "(thresholds: ?[]int, young_bytes: ?int) -> "
	      "(thresholds: []int, young_bytes: int)",
    .changes_state = true,
    .exec = method_set_thresholds_exec,
};
