/* What rose, by type (and by site, with leak debugging on), since the last
 * snapshot. */
#include "census-table.h"
#include "reclaimctl.h"

/* Human output of a Diff reply. */
static int cmd_diff_human(const struct json *reply)
{
	struct json *types = json_get(reply, "types");

	if (json_size(types) == 0) {
		puts("nothing rose since the snapshot");
		return CTL_OK;
	}
	census_table_print(types, true);
	census_sites_print(json_get(reply, "sites"), true);
	return CTL_OK;
}

/* diff */
static int cmd_diff_exec(struct ctl *ctl, int argc, char **argv)
{
	return ctl_simple(ctl, "io.reclaim.Diff", NULL, cmd_diff_human);
}

const struct cmd_entry cmd_diff_entry = {
    .name = "diff",
    .usage = "",
    .help = "types whose objects or bytes rose since the snapshot",
    .min_args = 0,
    .max_args = 0,
    .exec = cmd_diff_exec,
};
