/* hello: GET / answers "Hello, world", the smallest task there is. */
#include <reclaimd/task.h>

/* One step: write the greeting and finish. */
static enum rcl_step hello_step(rcl_runner *r, void *frame)
{
	rcl_runner_set_header(r, "Content-Type", "text/plain");
	rcl_runner_write(r, "Hello, world", 12);
	return RCL_STEP_DONE;
}

const struct rcl_task_def task_hello_def = {
    .name = "hello",
    .description = "GET /: Hello, world",
    .kind = RCL_TASK_REQUEST,
    .route = "/",
    .step = hello_step,
};
