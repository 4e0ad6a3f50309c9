/* Live objects and bytes by type over every heap; with leak debugging on,
 * by the site that made them and their task too. */
#include "census-table.h"
#include "human.h"
#include "reclaimctl.h"

/* Human output of a Census reply. */
static int cmd_census_human(const struct json *reply)
{
	char b[HUMAN_LEN];

	census_table_print(json_get(reply, "types"), false);
	printf("%llu objects, %s\n",
	       (unsigned long long)json_path_u64(reply, "objects"),
	       human_bytes(json_path_u64(reply, "bytes"), b));
	census_sites_print(json_get(reply, "sites"), false);
	return CTL_OK;
}

/* census */
static int cmd_census_exec(struct ctl *ctl, int argc, char **argv)
{
	return ctl_simple(ctl, "io.reclaim.Census", NULL, cmd_census_human);
}

const struct cmd_entry cmd_census_entry = {
    .name = "census",
    .usage = "",
    .help = "live objects and bytes by type (and by site, with leak "
	    "debugging on)",
    .min_args = 0,
    .max_args = 0,
    .exec = cmd_census_exec,
};
