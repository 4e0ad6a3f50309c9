/* Garbage: what the cycle collector reclaimed since the last report. */
#include "reclaimd.h"

/* The report is issue 6's; until then say so plainly. */
static enum call_status method_garbage_exec(struct call *call)
{
	return call_error(call, "io.reclaim.NotImplemented",
			  "the garbage report is not available yet");
}

const struct method_entry method_garbage_entry = {
    .name = "io.reclaim.Garbage",
    .params = "() -> (types: []TypeCount, cycles: []object)",
    .changes_state = false,
    .exec = method_garbage_exec,
};
