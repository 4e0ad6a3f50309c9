/* Remember the census now, for diff. */
#include "human.h"
#include "reclaimctl.h"

/* Human output of a Snapshot reply. */
static int cmd_snapshot_human(const struct json *reply)
{
	char b[HUMAN_LEN];

	printf("snapshot taken: %llu objects, %s, %llu types\n",
	       (unsigned long long)json_path_u64(reply, "objects"),
	       human_bytes(json_path_u64(reply, "bytes"), b),
	       (unsigned long long)json_path_u64(reply, "types"));
	return CTL_OK;
}

/* snapshot */
static int cmd_snapshot_exec(struct ctl *ctl, int argc, char **argv)
{
	return ctl_simple(ctl, "io.reclaim.Snapshot", NULL, cmd_snapshot_human);
}

const struct cmd_entry cmd_snapshot_entry = {
    .name = "snapshot",
    .usage = "",
    .help = "remember the census now, for diff",
    .min_args = 0,
    .max_args = 0,
    .exec = cmd_snapshot_exec,
};
