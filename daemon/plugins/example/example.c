/*
 * An example plugin: build it against <reclaimd/task.h> (installed with
 * reclaimd) and list it in tasks.modules. It shows each kind of task and
 * each yield point:
 *
 *	GET /example/hello[?ms=N]  a request task that waits N ms on a timer
 *	example-tick               a periodic task, every 100 ms on each worker
 *	example-ticks              on demand: how many ticks have run
 *	example-wait               on demand: waits for example-ticks, a task
 *	example-pipe               on demand: waits for a file descriptor
 *	example-fail               on demand: fails (io.reclaim.TaskFailed)
 *	POST /example/echo         a request task that answers its body
 *
 *	cc -shared -fPIC -o example.so example.c $(pkg-config --cflags reclaim)
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <reclaimd/task.h>

static atomic_ulong ticks;

/* The request's state between its two steps. */
struct hello_frame {
	uint64_t ms;
};

static const rcl_type hello_frame_type = {
    .name = "example.hello",
    .size = sizeof(struct hello_frame),
};

/* Step 0: wait ms on a timer; step 1: answer. */
static enum rcl_step hello_step(rcl_runner *r, void *frame)
{
	struct hello_frame *f = frame;

	if (rcl_runner_steps(r) == 0) {
		if (rcl_runner_arg_u64(r, "ms", 10, 0, 10000, &f->ms) < 0)
			return RCL_STEP_FAIL;
		if (rcl_yield_sleep(r, f->ms) != 0)
			return rcl_runner_fail(r, 503, "cannot wait");
		return RCL_STEP_YIELD;
	}
	rcl_runner_set_header(r, "Content-Type", "text/plain");
	rcl_runner_printf(r,
			  "Hello from a plugin, after %llu ms on worker %d\n",
			  (unsigned long long)f->ms, rcl_runner_worker(r));
	return RCL_STEP_DONE;
}

/* Count a tick. */
static enum rcl_step tick_step(rcl_runner *r, void *frame)
{
	atomic_fetch_add(&ticks, 1);
	return RCL_STEP_DONE;
}

/* Answer the count. */
static enum rcl_step ticks_step(rcl_runner *r, void *frame)
{
	rcl_result_add_u64(rcl_runner_result(r), "ticks", atomic_load(&ticks));
	return RCL_STEP_DONE;
}

static const struct rcl_task_def ticks_def = {
    .name = "example-ticks",
    .description = "how many times example-tick has run",
    .kind = RCL_TASK_ON_DEMAND,
    .step = ticks_step,
};

/* Step 0: start example-ticks and wait for it; step 1: pass its count on. */
static enum rcl_step wait_step(rcl_runner *r, void *frame)
{
	const rcl_result *child;

	if (rcl_runner_steps(r) == 0) {
		if (rcl_yield_task(r, &ticks_def) != 0)
			return rcl_runner_fail(r, 503, "cannot start a task");
		return RCL_STEP_YIELD;
	}
	child = rcl_runner_child_result(r);
	if (child == NULL)
		return rcl_runner_fail(r, 500, "example-ticks failed: %s",
				       rcl_runner_child_error(r));
	rcl_result_add_u64(rcl_runner_result(r), "ticks",
			   rcl_result_get_u64(child, "ticks"));
	rcl_result_add_str(rcl_runner_result(r), "waited_for", "example-ticks");
	return RCL_STEP_DONE;
}

/* A pipe, closed with the frame. */
struct pipe_frame {
	int fds[2];
};

/* Close what is open. */
static void pipe_destroy(void *self)
{
	struct pipe_frame *f = self;

	if (f->fds[0] > 0)
		close(f->fds[0]);
	if (f->fds[1] > 0)
		close(f->fds[1]);
}

static const rcl_type pipe_frame_type = {
    .name = "example.pipe",
    .size = sizeof(struct pipe_frame),
    .destroy = pipe_destroy,
};

/* Step 0: write to a pipe, wait until its other end is readable; step 1:
 * read what came. */
static enum rcl_step pipe_step(rcl_runner *r, void *frame)
{
	struct pipe_frame *f = frame;
	char buf[16] = "";
	ssize_t n;

	if (rcl_runner_steps(r) == 0) {
		if (pipe(f->fds) != 0 || write(f->fds[1], "ping", 4) != 4 ||
		    rcl_yield_fd(r, f->fds[0], RCL_IO_READ, 1000) != 0)
			return rcl_runner_fail(r, 500, "pipe failed");
		return RCL_STEP_YIELD;
	}
	if (!(rcl_runner_fired(r) & RCL_IO_READ))
		return rcl_runner_fail(r, 500, "pipe timed out");
	n = read(f->fds[0], buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = '\0';
	rcl_result_add_str(rcl_runner_result(r), "read", buf);
	return RCL_STEP_DONE;
}

/* Fail, saying why. */
static enum rcl_step fail_step(rcl_runner *r, void *frame)
{
	return rcl_runner_fail(r, 500, "failed as asked");
}

/* Answer the method, a header and the body. */
static enum rcl_step echo_step(rcl_runner *r, void *frame)
{
	const char *who = rcl_runner_header(r, "X-Who");
	size_t len;
	const void *body = rcl_runner_body(r, &len);

	rcl_runner_set_header(r, "Content-Type", "text/plain");
	rcl_runner_printf(r, "%s from %s: ", rcl_runner_method(r),
			  who ? who : "?");
	rcl_runner_write(r, body ? body : "", len);
	return RCL_STEP_DONE;
}

static const struct rcl_task_def example_defs[] = {
    {.name = "example-hello",
     .description = "GET /example/hello[?ms=10]: answers after a timer",
     .kind = RCL_TASK_REQUEST,
     .route = "/example/hello",
     .frame = &hello_frame_type,
     .step = hello_step},
    {.name = "example-tick",
     .description = "counts, every 100 ms on each worker",
     .kind = RCL_TASK_PERIODIC,
     .period_ms = 100,
     .step = tick_step},
    {.name = "example-wait",
     .description = "waits for the task example-ticks and answers its count",
     .kind = RCL_TASK_ON_DEMAND,
     .step = wait_step},
    {.name = "example-pipe",
     .description = "waits for a pipe to be readable",
     .kind = RCL_TASK_ON_DEMAND,
     .frame = &pipe_frame_type,
     .step = pipe_step},
    {.name = "example-echo",
     .description = "POST /example/echo: answers its method, X-Who and body",
     .kind = RCL_TASK_REQUEST,
     .route = "/example/echo",
     .step = echo_step},
    {.name = "example-fail",
     .description = "fails, to show how a failure is answered",
     .kind = RCL_TASK_ON_DEMAND,
     .step = fail_step},
};

/* Add every task. */
static int example_register(rcl_registry *reg, char **cause)
{
	size_t i;

	if (rcl_registry_add(reg, &ticks_def, cause) != 0)
		return -1;
	for (i = 0; i < sizeof example_defs / sizeof *example_defs; i++) {
		if (rcl_registry_add(reg, &example_defs[i], cause) != 0)
			return -1;
	}
	return 0;
}

RCL_PLUGIN("example", "an example of each kind of task", example_register);
