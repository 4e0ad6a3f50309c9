/* Reload: read the configuration again, as SIGHUP does. */
#include <stdlib.h>

#include "reclaimd.h"

/* Reload; a bad file keeps the old configuration and says why, as does
 * running out of memory reading it (io.reclaim.OutOfMemory). */
static enum call_status method_reload_exec(struct call *call)
{
	char *cause = NULL;

	if (server_reload(call->srv, &cause) != 0 && cause == NULL)
		return call_oom(call);
	if (cause != NULL) {
		call_error(call, "io.reclaim.ConfigError", "%s", cause);
		free(cause);
		return CALL_ERROR;
	}
	return CALL_DONE;
}

const struct method_entry method_reload_entry = {
    .name = "io.reclaim.Reload",
    .params = "() -> ()",
    .changes_state = true,
    .exec = method_reload_exec,
};
