/*
 * A plugin of tasks that wait a long time, for test_tasks.py's cancellation
 * tests: each frame counts its release, and test-released answers the
 * count, so a test sees that a cancelled task's state was freed.
 *
 *	test-sleep     waits ms (default a minute) on a timer
 *	test-wait      waits for test-sleep, a task (same arguments)
 *	test-fd        waits for a pipe that is never written, with no timeout
 *	test-released  how many frames of the tasks above were released
 *	test-slow      GET /test/sleep: test-sleep as a request task
 *	test-slow-wait GET /test/wait: test-wait as a request task
 */
#include <stdatomic.h>
#include <unistd.h>

#include <reclaimd/task.h>

static atomic_ulong released;

/* A frame: a pipe for test-fd, nothing open otherwise. */
struct waits_frame {
	int fds[2];
};

/* Close what is open and count the release. */
static void waits_destroy(void *self)
{
	struct waits_frame *f = self;

	if (f->fds[0] > 0)
		close(f->fds[0]);
	if (f->fds[1] > 0)
		close(f->fds[1]);
	atomic_fetch_add(&released, 1);
}

static const rcl_type waits_frame_type = {
    .name = "test.waits",
    .size = sizeof(struct waits_frame),
    .destroy = waits_destroy,
};

/* Step 0: sleep; step 1: done. */
static enum rcl_step sleep_step(rcl_runner *r, void *frame)
{
	uint64_t ms;

	if (rcl_runner_steps(r) > 0)
		return RCL_STEP_DONE;
	if (rcl_runner_arg_u64(r, "ms", 60000, 0, 3600000, &ms) < 0)
		return RCL_STEP_FAIL;
	if (rcl_yield_sleep(r, ms) != 0)
		return rcl_runner_fail(r, 503, "cannot sleep");
	return RCL_STEP_YIELD;
}

static const struct rcl_task_def sleep_def = {
    .name = "test-sleep",
    .description = "waits ms (default 60000) on a timer",
    .kind = RCL_TASK_ON_DEMAND,
    .frame = &waits_frame_type,
    .step = sleep_step,
};

/* Step 0: start test-sleep and wait for it; step 1: done. */
static enum rcl_step wait_step(rcl_runner *r, void *frame)
{
	if (rcl_runner_steps(r) > 0)
		return RCL_STEP_DONE;
	if (rcl_yield_task(r, &sleep_def) != 0)
		return rcl_runner_fail(r, 503, "cannot start test-sleep");
	return RCL_STEP_YIELD;
}

/* Step 0: wait for a pipe nobody writes; step 1 never comes. */
static enum rcl_step fd_step(rcl_runner *r, void *frame)
{
	struct waits_frame *f = frame;

	if (rcl_runner_steps(r) > 0)
		return rcl_runner_fail(r, 500, "the pipe was readable");
	if (pipe(f->fds) != 0 ||
	    rcl_yield_fd(r, f->fds[0], RCL_IO_READ, 0) != 0)
		return rcl_runner_fail(r, 500, "pipe failed");
	return RCL_STEP_YIELD;
}

/* Answer the count of frames released. */
static enum rcl_step released_step(rcl_runner *r, void *frame)
{
	rcl_result_add_u64(rcl_runner_result(r), "released",
			   atomic_load(&released));
	return RCL_STEP_DONE;
}

static const struct rcl_task_def waits_defs[] = {
    {.name = "test-wait",
     .description = "waits for test-sleep, a task",
     .kind = RCL_TASK_ON_DEMAND,
     .frame = &waits_frame_type,
     .step = wait_step},
    {.name = "test-fd",
     .description = "waits for a pipe that is never written",
     .kind = RCL_TASK_ON_DEMAND,
     .frame = &waits_frame_type,
     .step = fd_step},
    {.name = "test-slow",
     .description = "GET /test/sleep: waits ms (default 60000) on a timer",
     .kind = RCL_TASK_REQUEST,
     .route = "/test/sleep",
     .frame = &waits_frame_type,
     .step = sleep_step},
    {.name = "test-slow-wait",
     .description = "GET /test/wait: waits for test-sleep, a task",
     .kind = RCL_TASK_REQUEST,
     .route = "/test/wait",
     .frame = &waits_frame_type,
     .step = wait_step},
    {.name = "test-released",
     .description = "how many frames of the test tasks were released",
     .kind = RCL_TASK_ON_DEMAND,
     .step = released_step},
};

/* Add every task. */
static int waits_register(rcl_registry *reg, char **cause)
{
	size_t i;

	if (rcl_registry_add(reg, &sleep_def, cause) != 0)
		return -1;
	for (i = 0; i < sizeof waits_defs / sizeof *waits_defs; i++) {
		if (rcl_registry_add(reg, &waits_defs[i], cause) != 0)
			return -1;
	}
	return 0;
}

RCL_PLUGIN("waits", "tasks that wait a long time", waits_register);
