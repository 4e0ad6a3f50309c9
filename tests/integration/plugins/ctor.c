/* A plugin with a constructor that leaves a mark (its pid, appended to
 * $RECLAIM_TEST_CTOR_MARK) or crashes ($RECLAIM_TEST_CTOR_CRASH): who
 * loaded it, and whether a crash while loading is caught. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <reclaimd/task.h>

/* Runs when the plugin is loaded, before anything registers. */
__attribute__((constructor)) static void ctor_mark(void)
{
	const char *mark = getenv("RECLAIM_TEST_CTOR_MARK");
	FILE *f;

	if (getenv("RECLAIM_TEST_CTOR_CRASH") != NULL)
		raise(SIGSEGV);
	if (mark != NULL && (f = fopen(mark, "a")) != NULL) {
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
}

/* Done at once. */
static enum rcl_step ctor_step(rcl_runner *r, void *frame)
{
	return RCL_STEP_DONE;
}

static const struct rcl_task_def ctor_def = {
    .name = "ctor",
    .kind = RCL_TASK_ON_DEMAND,
    .step = ctor_step,
};

/* Add it. */
static int ctor_register(rcl_registry *reg, char **cause)
{
	return rcl_registry_add(reg, &ctor_def, cause);
}

RCL_PLUGIN("ctor", "marks who loads it", ctor_register);
