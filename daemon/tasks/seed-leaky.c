/*
 * GET /seed/leaky: the write-up's handler, leak included.
 *
 *	@web.asynchronous
 *	@gen.engine
 *	def get(self):
 *		self.write("Hello, world<br>")
 *		yield gen.Task(self.some_task, self.megabyte_string * 20)
 *		self.finish()
 *
 *	def some_task(self, bigdata, callback):
 *		self.write("some task<br>")
 *		callback()
 *
 * Tornado 3.1's gen.Runner drives the generator: it keeps the yielded Task as
 * its yield_point, and Task.start(runner) keeps the Runner. When the
 * generator ends, Runner.run sets finished but keeps yield_point, so
 * Runner -yield_point-> Task -runner-> Runner outlives the request with the
 * 20 MiB payload, until the cycle collector finds it. Nothing here breaks
 * the cycle: that is the point. The runtime's own runner (task.c) has the
 * fix; these are the write-up's types, written out as tornado_seed.py does.
 * ?mb=N changes the payload (0 to 512 MiB); it is really allocated and
 * written, as megabyte_string * 20 is, and owned by the Task.
 */
#include <stddef.h>

#include <reclaim/types.h>
#include <reclaimd/task.h>

#include "seed.h"

struct seed_runner {
	struct seed_task *yield_point; /* kept after finishing: the leak */
	rcl_runner *handler;	       /* the request (not a heap reference) */
	int state;		       /* where the generator is */
	bool finished;
};

struct seed_task {
	struct seed_runner *runner; /* set by start */
	void *bigdata;		    /* the payload, owned here */
};

/* Their references described, as a user's types would be: the collector
 * walks them, and traverse and clear are the library's. */
static const rcl_type seed_runner_type = {
    .name = "Runner",
    .size = sizeof(struct seed_runner),
    RCL_REFS(RCL_REF(struct seed_runner, yield_point)),
};

static const rcl_type seed_task_type = {
    .name = "Task",
    .size = sizeof(struct seed_task),
    RCL_REFS(RCL_REF(struct seed_task, runner),
	     RCL_REF(struct seed_task, bigdata)),
};

static void runner_run(struct seed_runner *runner);

/* Task.start(runner): keep the runner, run some_task with a callback. */
static void task_start(struct seed_task *t, struct seed_runner *runner)
{
	rcl_incref(runner);
	t->runner = runner; /* Task -runner-> Runner */
	seed_some_task(runner->handler, t->bigdata);
	runner_run(t->runner); /* the callback: resume the generator */
}

/* The handler's generator, one resumption a call; NULL when it ends. */
static struct seed_task *leaky_gen(struct seed_runner *runner)
{
	rcl_runner *r = runner->handler;
	struct seed_task *t;

	if (runner->state++ != 0) {
		seed_finish(r);
		return NULL; /* StopIteration */
	}
	rcl_runner_write(r, "Hello, world<br>", 16);
	t = rcl_new(rcl_runner_heap(r), &seed_task_type);
	if (t == NULL)
		return NULL;
	t->bigdata = seed_payload(r);
	return t; /* yield gen.Task(self.some_task, payload) */
}

/* Runner.run: send into the generator until it yields or ends. */
static void runner_run(struct seed_runner *runner)
{
	struct seed_task *yielded = leaky_gen(runner);

	if (yielded == NULL) {
		runner->finished = true; /* yield_point is kept: the leak */
		runner->handler = NULL;
		return;
	}
	rcl_decref(runner->yield_point);
	runner->yield_point = yielded; /* Runner -yield_point-> Task */
	task_start(yielded, runner);
}

/* The request: a Runner drives the handler, then both are dropped. */
static enum rcl_step seed_leaky_step(rcl_runner *r, void *frame)
{
	uint64_t mb;
	struct seed_runner *runner;

	if (rcl_runner_arg_u64(r, "mb", SEED_DEFAULT_MB, 0, SEED_MAX_MB, &mb) <
	    0)
		return RCL_STEP_FAIL;
	runner = rcl_new(rcl_runner_heap(r), &seed_runner_type);
	if (runner == NULL)
		return rcl_runner_fail(r, 503, "out of memory");
	runner->handler = r;
	runner_run(runner);
	rcl_decref(runner); /* the cycle keeps both alive */
	return seed_done(r);
}

const struct rcl_task_def task_seed_leaky_def = {
    .name = "seed-leaky",
    .description = "GET /seed/leaky[?mb=20]: the write-up's handler, with "
		   "its Runner <-> Task cycle",
    .kind = RCL_TASK_REQUEST,
    .route = "/seed/leaky",
    .step = seed_leaky_step,
};
