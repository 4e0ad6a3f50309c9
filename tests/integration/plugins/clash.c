/* A plugin whose task takes a built-in route: registering fails. */
#include <reclaimd/task.h>

/* Never runs. */
static enum rcl_step clash_step(rcl_runner *r, void *frame)
{
	return RCL_STEP_DONE;
}

static const struct rcl_task_def clash_def = {
    .name = "clash",
    .kind = RCL_TASK_REQUEST,
    .route = "/seed/leaky",
    .step = clash_step,
};

/* Try to add it. */
static int clash_register(rcl_registry *reg, char **cause)
{
	return rcl_registry_add(reg, &clash_def, cause);
}

RCL_PLUGIN("clash", "takes a route that is taken", clash_register);
