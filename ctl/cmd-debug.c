/* Turn leak debugging on or off. */
#include <string.h>

#include "reclaimctl.h"
#include "value.h"

/* Human output of a SetDebug reply. */
static int cmd_debug_human(const struct json *reply)
{
	bool on = false;

	json_as_bool(json_get(reply, "leak"), &on);
	printf("leak debugging %s\n", on ? "on" : "off");
	return CTL_OK;
}

/* debug leak on|off */
static int cmd_debug_exec(struct ctl *ctl, int argc, char **argv)
{
	struct json *params;
	bool on;
	int rc;

	if (strcmp(argv[0], "leak") != 0)
		return ctl_usage(ctl, "debug: unknown flag \"%s\"", argv[0]);
	/* the configuration's booleans: on/off, true/false, yes/no, 1/0 */
	if (value_bool(argv[1], &on, NULL, 0) != 0)
		return ctl_usage(
		    ctl,
		    "debug: leak: expected on or off (or another "
		    "boolean: true/false, yes/no, 1/0), not \"%s\"",
		    argv[1]);
	params = json_object();
	json_add_bool(params, "leak", on);
	rc = ctl_simple(ctl, "io.reclaim.SetDebug", params, cmd_debug_human);
	json_destroy(params);
	return rc;
}

const struct cmd_entry cmd_debug_entry = {
    .name = "debug",
    .usage = "leak on|off",
    .help = "report what the collector frees (see garbage)",
    .min_args = 2,
    .max_args = 2,
    .exec = cmd_debug_exec,
};
