/* A plugin built for another task ABI version. */
#include <reclaimd/task.h>

/* Never called: the version check refuses the plugin first. */
static int badabi_register(rcl_registry *reg, char **cause)
{
	return 0;
}

__attribute__((visibility("default")))
const struct rcl_plugin reclaim_plugin = {RCL_TASK_ABI_VERSION + 98, "badabi",
					  "wrong version", badabi_register};
