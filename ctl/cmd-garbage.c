/* What the cycle collector reclaimed since the last report (reading empties
 * it). */
#include "human.h"
#include "reclaimctl.h"

/* Human output of a Garbage reply: types, then cycle paths. */
static int cmd_garbage_human(const struct json *reply)
{
	static const char *const headers[] = {"TYPE", "COUNT", "BYTES"};
	struct json *types = json_get(reply, "types"), *c, *ty;
	struct table *t = table_create(3, headers);
	char b[HUMAN_LEN];
	const char *path;
	size_t i;

	table_right(t, 1);
	table_right(t, 2);
	for (i = 0; i < json_size(types); i++) {
		ty = json_at(types, i);
		table_add(t, "%s", json_as_str(json_get(ty, "type")));
		table_add(t, "%llu",
			  (unsigned long long)json_path_u64(ty, "count"));
		table_add(t, "%s", human_bytes(json_path_u64(ty, "bytes"), b));
	}
	if (json_size(types) == 0)
		puts("no garbage since the last report");
	else
		table_print(t, stdout);
	table_destroy(t);
	for (c = json_child(json_get(reply, "cycles")); c; c = json_next(c)) {
		path = json_as_str(json_get(c, "path"));
		printf("cycle: %s (x%llu)\n", path ? path : "?",
		       (unsigned long long)json_path_u64(c, "count"));
	}
	return CTL_OK;
}

/* garbage */
static int cmd_garbage_exec(struct ctl *ctl, int argc, char **argv)
{
	return ctl_simple(ctl, "io.reclaim.Garbage", NULL, cmd_garbage_human);
}

const struct cmd_entry cmd_garbage_entry = {
    .name = "garbage",
    .usage = "",
    .help = "what the collector reclaimed since the last report",
    .min_args = 0,
    .max_args = 0,
    .exec = cmd_garbage_exec,
};
