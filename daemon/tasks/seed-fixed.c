/*
 * GET /seed/fixed: the write-up's fix, a direct call with a callback:
 *
 *	def get(self):
 *		self.write("Hello, world<br>")
 *		self.some_task(self.megabyte_string * 20, self.finish)
 *
 * No Runner, no Task, no cycle: the payload (?mb=N, default 20 MiB, really
 * allocated and written) is freed by its reference count on return.
 */
#include "seed.h"

/* The request, in one step. */
static enum rcl_step seed_fixed_step(rcl_runner *r, void *frame)
{
	void *bigdata;

	rcl_runner_write(r, "Hello, world<br>", 16);
	bigdata = seed_payload(r);
	if (bigdata == NULL)
		return RCL_STEP_FAIL;
	seed_some_task(r, bigdata);
	seed_finish(r); /* the callback */
	rcl_decref(bigdata);
	return seed_done(r);
}

const struct rcl_task_def task_seed_fixed_def = {
    .name = "seed-fixed",
    .description = "GET /seed/fixed[?mb=20]: the write-up's fixed handler, "
		   "no cycle",
    .kind = RCL_TASK_REQUEST,
    .route = "/seed/fixed",
    .step = seed_fixed_step,
};
