/* Make reclaimd read its configuration again. */
#include "reclaimctl.h"

/* Human output of a Reload reply. */
static int cmd_reload_human(const struct json *reply)
{
	puts("configuration reloaded");
	return CTL_OK;
}

/* reload */
static int cmd_reload_exec(struct ctl *ctl, int argc, char **argv)
{
	return ctl_simple(ctl, "io.reclaim.Reload", NULL, cmd_reload_human);
}

const struct cmd_entry cmd_reload_entry = {
    .name = "reload",
    .usage = "",
    .help = "read the configuration again (as SIGHUP)",
    .min_args = 0,
    .max_args = 0,
    .exec = cmd_reload_exec,
};
