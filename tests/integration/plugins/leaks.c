/*
 * A plugin with a leak at a known line, for test_leak_check.py: GET
 * /test/leak makes two Pairs that hold each other and drops them (a cycle
 * for the collector); GET /test/noleak makes the same pair and breaks the
 * cycle first. The test finds the lines of the rcl_new() calls by their
 * LEAK-SITE comments, so the sites it expects follow this file.
 */
#include <reclaimd/task.h>

struct pair {
	struct pair *other;
};

static const rcl_type pair_type = {
    .name = "test.Pair",
    .size = sizeof(struct pair),
    RCL_REFS(RCL_REF(struct pair, other)),
};

/* Two pairs holding each other; NULL if memory is short. */
static struct pair *make_pair(rcl_heap *h)
{
	struct pair *a = rcl_new(h, &pair_type); /* LEAK-SITE-A */
	struct pair *b;

	if (a == NULL)
		return NULL;
	b = rcl_new(h, &pair_type); /* LEAK-SITE-B */
	if (b == NULL) {
		rcl_decref(a);
		return NULL;
	}
	a->other = b; /* takes our reference to b */
	rcl_incref(a);
	b->other = a;
	return a;
}

/* Make the pair and drop it whole: the collector's. */
static enum rcl_step leak_step(rcl_runner *r, void *frame)
{
	struct pair *a = make_pair(rcl_runner_heap(r));

	if (a == NULL)
		return rcl_runner_fail(r, 503, "out of memory");
	rcl_decref(a);
	rcl_runner_printf(r, "leaked a pair\n");
	return RCL_STEP_DONE;
}

/* Make the pair, break the cycle, drop it: reference counting frees it. */
static enum rcl_step noleak_step(rcl_runner *r, void *frame)
{
	struct pair *a = make_pair(rcl_runner_heap(r));

	if (a == NULL)
		return rcl_runner_fail(r, 503, "out of memory");
	rcl_clear(a->other);
	rcl_decref(a);
	rcl_runner_printf(r, "freed a pair\n");
	return RCL_STEP_DONE;
}

static const struct rcl_task_def leaks_defs[] = {
    {.name = "test-leak",
     .description = "GET /test/leak: leaves a Pair <-> Pair cycle",
     .kind = RCL_TASK_REQUEST,
     .route = "/test/leak",
     .step = leak_step},
    {.name = "test-noleak",
     .description = "GET /test/noleak: breaks its cycle first",
     .kind = RCL_TASK_REQUEST,
     .route = "/test/noleak",
     .step = noleak_step},
};

/* Add both tasks. */
static int leaks_register(rcl_registry *reg, char **cause)
{
	size_t i;

	for (i = 0; i < sizeof leaks_defs / sizeof *leaks_defs; i++) {
		if (rcl_registry_add(reg, &leaks_defs[i], cause) != 0)
			return -1;
	}
	return 0;
}

RCL_PLUGIN("leaks", "a leak at a known line, and its fix", leaks_register);
