/* Collect: run the cycle collector on every worker's heap. */
#include "reclaimd.h"

/* Every worker answered: the total and each worker's share. */
static void method_collect_done(struct fanout *fan)
{
	struct json *reply = call_reply(fan->call), *arr, *w;
	uint64_t total = 0, pause = 0;
	size_t i;

	arr = json_array();
	for (i = 0; i < fan->n; i++) {
		total += fan->cmds[i].out.collected;
		if (fan->cmds[i].out.pause_ns > pause)
			pause = fan->cmds[i].out.pause_ns;
		w = json_add_object(arr, NULL);
		json_add_u64(w, "id", i);
		json_add_u64(w, "collected", fan->cmds[i].out.collected);
		json_add_u64(w, "pause_ns", fan->cmds[i].out.pause_ns);
	}
	json_add_u64(reply, "generation", (uint64_t)fan->cmds[0].in.collect.generation);
	json_add_u64(reply, "collected", total);
	json_add_u64(reply, "pause_ns", pause);
	json_attach(reply, "workers", arr);
	call_finish(fan->call, CALL_DONE);
	fanout_destroy(fan);
}

/* Collect generations 0..generation (default 2, everything). */
static enum call_status method_collect_exec(struct call *call)
{
	uint64_t gen = RCL_GENERATIONS - 1;
	struct fanout *fan;
	size_t i;

	if (call_param_u64(call, "generation", RCL_GENERATIONS - 1, &gen) < 0)
		return CALL_ERROR;
	fan = fanout_create(call->srv, call, WCMD_COLLECT, method_collect_done);
	if (fan == NULL)
		return call_oom(call);
	for (i = 0; i < fan->n; i++)
		fan->cmds[i].in.collect.generation = (int)gen;
	fanout_send(fan);
	return CALL_ASYNC;
}

const struct method_entry method_collect_entry = {
    .name = "io.reclaim.Collect",
    .params = "(generation: ?int) -> (generation: int, collected: int, "
	      "pause_ns: int, workers: []WorkerCollect)",
    .changes_state = true,
    .exec = method_collect_exec,
};
