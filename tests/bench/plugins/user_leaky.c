/*
 * The write-up's handler as a user of reclaimd writes it, in a plugin of
 * its own against the installed headers: its own Runner and Task types
 * (their references described, no callbacks), the payload a standard bytes
 * object, nothing of reclaimd's built-in seed code. tests/bench/seed.sh
 * serves it beside Tornado's fixed handler.
 *
 *	GET /user/leaky[?mb=20]  Runner -yield_point-> Task -runner-> Runner,
 *	                         never broken, the Task holding the payload
 *	GET /user/fixed[?mb=20]  the payload made and dropped, no cycle
 *
 *	cc -shared -fPIC -o user_leaky.so user_leaky.c $(pkg-config --cflags reclaim)
 */
#include <stddef.h>

#include <reclaim/types.h>
#include <reclaimd/task.h>

/* megabyte_string = "0123456789abcdef" * 64 * 1024 */
static const char unit[] = "0123456789abcdef";

struct task;

struct runner {
	struct task *yield_point; /* kept after the generator ends: the leak */
};

struct task {
	struct runner *runner;
	rcl_bytes *bigdata;
};

static const rcl_type runner_type = {
    .name = "Runner",
    .size = sizeof(struct runner),
    RCL_REFS(RCL_REF(struct runner, yield_point)),
};

static const rcl_type task_type = {
    .name = "Task",
    .size = sizeof(struct task),
    RCL_REFS(RCL_REF(struct task, runner), RCL_REF(struct task, bigdata)),
};

/* megabyte_string * mb, or NULL (the request has failed: 503). */
static rcl_bytes *payload(rcl_runner *r)
{
	uint64_t mb;
	rcl_bytes *b;

	if (rcl_runner_arg_u64(r, "mb", 20, 0, 512, &mb) < 0)
		return NULL;
	b = rcl_bytes_repeat(rcl_runner_heap(r), unit, 16, (size_t)mb << 16);
	if (b == NULL)
		rcl_runner_fail(r, 503, "out of memory");
	return b;
}

/* self.write("Hello, world<br>"); yield gen.Task(self.some_task,
 * megabyte_string * 20); self.finish() -- with the Runner and the Task
 * that Tornado 3.1 made, and the cycle it left. */
static enum rcl_step leaky_step(rcl_runner *r, void *frame)
{
	rcl_heap *h = rcl_runner_heap(r);
	struct runner *run = rcl_new(h, &runner_type);
	struct task *t = rcl_new(h, &task_type);

	if (run == NULL || t == NULL) {
		rcl_decref(run);
		rcl_decref(t);
		return rcl_runner_fail(r, 503, "out of memory");
	}
	rcl_runner_write(r, "Hello, world<br>", 16);
	t->bigdata = payload(r);
	if (t->bigdata != NULL) {
		run->yield_point = t; /* Runner -yield_point-> Task */
		rcl_incref(t);
		t->runner = run; /* Task -runner-> Runner */
		rcl_incref(run);
		rcl_runner_write(r, "some task<br>", 13);
	}
	rcl_decref(t);
	rcl_decref(run);
	return rcl_runner_failed(r) ? RCL_STEP_FAIL : RCL_STEP_DONE;
}

/* The fixed handler: the payload is made, used and dropped. */
static enum rcl_step fixed_step(rcl_runner *r, void *frame)
{
	rcl_bytes *b;

	rcl_runner_write(r, "Hello, world<br>", 16);
	if ((b = payload(r)) == NULL)
		return RCL_STEP_FAIL;
	rcl_runner_write(r, "some task<br>", 13);
	rcl_decref(b);
	return RCL_STEP_DONE;
}

static const struct rcl_task_def leaky_def = {
    .name = "user-leaky",
    .description = "GET /user/leaky[?mb=20]: the write-up's handler as a "
		   "plugin, Runner <-> Task cycle included",
    .kind = RCL_TASK_REQUEST,
    .route = "/user/leaky",
    .step = leaky_step,
};

static const struct rcl_task_def fixed_def = {
    .name = "user-fixed",
    .description = "GET /user/fixed[?mb=20]: the same without the cycle",
    .kind = RCL_TASK_REQUEST,
    .route = "/user/fixed",
    .step = fixed_step,
};

/* Register both routes. */
static int register_tasks(rcl_registry *reg, char **cause)
{
	if (rcl_registry_add(reg, &leaky_def, cause) != 0)
		return -1;
	return rcl_registry_add(reg, &fixed_def, cause);
}

RCL_PLUGIN("user-leaky", "the write-up's handler, written as a user would",
	   register_tasks);
