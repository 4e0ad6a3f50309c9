/*
 * The write-up's handler, the parts /seed/leaky and /seed/fixed share.
 *
 * The payload, megabyte_string * mb, is a heap object of type "payload"
 * whose mb MiB are accounted against it with rcl_owned_add (so the byte
 * pacing sees 20 MiB, not one small object) and really written. Why not
 * rcl_bytes_repeat: two measured costs of the seed's shape, a 20 MiB block
 * freed and another taken on every request. (1) malloc: small allocations
 * made between the collection that frees the old block and the new request
 * split the freed hole, so the next 20 MiB come from fresh memory and RSS
 * doubles (85 MB instead of 45 with two workers); mmap for each block costs
 * 5.7 ms of page faults. So each worker thread keeps its last freed block
 * (one, mapped with MADV_HUGEPAGE) for the next payload: the collection
 * that rcl_owned_add runs first frees the old payload into that spare, and
 * the new one takes it; the periodic task seed-trim unmaps the spare after a
 * second without payloads, so an idle daemon does not keep it. (2) the doubling
 * copy of rcl_bytes_repeat reads back what it wrote (1.4 ms for 20 MiB here);
 * filling from one 64 KiB block that stays in cache takes 0.75 ms.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "seed.h"

#define SEED_BLOCK (64 * 1024)
#define SEED_ALIGN ((size_t)2 << 20)

/* The write-up's megabyte_string unit: "0123456789abcdef" * 64 * 1024. */
static const char seed_unit[] = "0123456789abcdef";

struct payload {
	unsigned char *data;
	size_t len; /* accounted against the object */
	size_t cap; /* mapped */
};

/* This thread's spare block: the last payload freed, kept for the next;
 * seed-trim gives it back once a period passes without a payload. */
static __thread struct {
	void *data;
	size_t cap;
	bool used; /* since the last trim */
} spare;

/* A block of at least len bytes: the spare if it fits, else a new mapping. */
static void *block_get(size_t len, size_t *cap)
{
	void *p;

	*cap = (len + SEED_ALIGN - 1) & ~(SEED_ALIGN - 1);
	spare.used = true;
	if (spare.data != NULL && spare.cap >= *cap) {
		p = spare.data;
		*cap = spare.cap;
		spare.data = NULL;
		return p;
	}
	p = mmap(NULL, *cap, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	madvise(p, *cap, MADV_HUGEPAGE);
	return p;
}

/* Keep a freed block as the spare (the larger of two), unmap the other. */
static void block_put(void *p, size_t cap)
{
	if (spare.data != NULL && spare.cap >= cap) {
		munmap(p, cap);
		return;
	}
	if (spare.data != NULL)
		munmap(spare.data, spare.cap);
	spare.data = p;
	spare.cap = cap;
}

/* Give the block back and stop accounting it. */
static void payload_destroy(void *self)
{
	struct payload *p = self;

	if (p->data == NULL)
		return;
	rcl_owned_sub(p, p->len);
	block_put(p->data, p->cap);
	p->data = NULL;
}

static const rcl_type payload_type = {
    .name = "payload",
    .size = sizeof(struct payload),
    .destroy = payload_destroy,
};

/* Write the unit over len bytes: one cached block, then copies of it. */
static void payload_fill(unsigned char *d, size_t len)
{
	size_t done, n;

	memcpy(d, seed_unit, len < 16 ? len : 16);
	for (done = 16; done < len && done < SEED_BLOCK; done *= 2)
		memcpy(d + done, d, len - done < done ? len - done : done);
	for (; done < len; done += n) {
		n = len - done < SEED_BLOCK ? len - done : SEED_BLOCK;
		memcpy(d + done, d, n);
	}
}

/* A payload of len bytes, or NULL (errno). Paces before taking memory. */
static struct payload *payload_new(rcl_heap *h, size_t len)
{
	struct payload *p = rcl_new(h, &payload_type);

	if (p == NULL || len == 0)
		return p;
	if (rcl_owned_add(p, len) != 0) { /* may collect: frees into spare */
		rcl_decref(p);
		return NULL;
	}
	p->data = block_get(len, &p->cap);
	if (p->data == NULL) {
		rcl_owned_sub(p, len);
		rcl_decref(p);
		errno = ENOMEM;
		return NULL;
	}
	p->len = len;
	payload_fill(p->data, len);
	return p;
}

/* megabyte_string * mb (?mb=N), or NULL: the task has failed. */
void *seed_payload(rcl_runner *r)
{
	uint64_t mb;
	void *b;

	if (rcl_runner_arg_u64(r, "mb", SEED_DEFAULT_MB, 0, SEED_MAX_MB, &mb) <
	    0)
		return NULL;
	b = payload_new(rcl_runner_heap(r), (size_t)mb << 20);
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

/* seed-trim: unmap the spare block if no payload was taken for a period. */
static enum rcl_step seed_trim_step(rcl_runner *r, void *frame)
{
	if (spare.data != NULL && !spare.used) {
		munmap(spare.data, spare.cap);
		spare.data = NULL;
	}
	spare.used = false;
	return RCL_STEP_DONE;
}

const struct rcl_task_def task_seed_trim_def = {
    .name = "seed-trim",
    .description = "gives back the seed routes' spare payload block when "
		   "idle for a second",
    .kind = RCL_TASK_PERIODIC,
    .period_ms = 1000,
    .step = seed_trim_step,
};

/* What the step returns once the handler has run. */
enum rcl_step seed_done(rcl_runner *r)
{
	return rcl_runner_failed(r) ? RCL_STEP_FAIL : RCL_STEP_DONE;
}
