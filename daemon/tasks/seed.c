/*
 * The write-up's handler, the parts /seed/leaky and /seed/fixed share.
 *
 * The payload is the write-up's megabyte_string * mb, written as a user of
 * the library would: a standard bytes object from rcl_bytes_repeat() (the
 * megabyte string is itself "0123456789abcdef" * 64 * 1024), whose bytes
 * are owned memory, so the byte pacing sees mb MiB and not one small object,
 * and admission refuses it when it cannot fit under the limit.
 */
#include <errno.h>

#include "seed.h"

/* megabyte_string = "0123456789abcdef" * 64 * 1024: one MiB of this unit. */
static const char seed_unit[] = "0123456789abcdef";
#define SEED_UNITS_PER_MB ((size_t)64 * 1024)

/* megabyte_string * mb (?mb=N), or NULL: the task has failed. */
void *seed_payload(rcl_runner *r)
{
	uint64_t mb;
	rcl_bytes *b;

	if (rcl_runner_arg_u64(r, "mb", SEED_DEFAULT_MB, 0, SEED_MAX_MB, &mb) <
	    0)
		return NULL;
	b = rcl_bytes_repeat(rcl_runner_heap(r), seed_unit,
			     sizeof seed_unit - 1,
			     SEED_UNITS_PER_MB * (size_t)mb);
	if (b == NULL)
		rcl_runner_fail(r, 503, "out of memory for a %llu MiB payload",
				(unsigned long long)mb);
	return b;
}

/* some_task(self, bigdata, callback): write, then the caller calls back. */
void seed_some_task(rcl_runner *r, void *bigdata)
{
	(void)bigdata;
	rcl_runner_write(r, "some task<br>", 13);
}

/* self.finish(): the body is complete (sent when the task returns). */
void seed_finish(rcl_runner *r)
{
	rcl_runner_set_header(r, "Content-Type", "text/html; charset=UTF-8");
}

/* What the step returns once the handler has run. */
enum rcl_step seed_done(rcl_runner *r)
{
	return rcl_runner_failed(r) ? RCL_STEP_FAIL : RCL_STEP_DONE;
}
