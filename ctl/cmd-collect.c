/* Run the cycle collector on every worker's heap. */
#include <stdlib.h>
#include <string.h>

#include "human.h"
#include "reclaimctl.h"

/* Human output of a Collect reply. */
static int cmd_collect_human(const struct json *reply)
{
	static const char *const headers[] = {"WORKER", "COLLECTED", "PAUSE"};
	struct json *arr = json_get(reply, "workers"), *w;
	struct table *t = table_create(3, headers);
	char p[HUMAN_LEN];
	size_t i;

	printf("generation %llu: %llu unreachable objects found, longest "
	       "pause %s\n",
	       (unsigned long long)json_path_u64(reply, "generation"),
	       (unsigned long long)json_path_u64(reply, "collected"),
	       human_ns(json_path_u64(reply, "pause_ns"), p));
	table_right(t, 1);
	table_right(t, 2);
	for (i = 0; i < json_size(arr); i++) {
		w = json_at(arr, i);
		table_add(t, "%llu",
			  (unsigned long long)json_path_u64(w, "id"));
		table_add(t, "%llu",
			  (unsigned long long)json_path_u64(w, "collected"));
		table_add(t, "%s", human_ns(json_path_u64(w, "pause_ns"), p));
	}
	table_print(t, stdout);
	table_destroy(t);
	return CTL_OK;
}

/* collect [GEN] */
static int cmd_collect_exec(struct ctl *ctl, int argc, char **argv)
{
	struct json *params = json_object();
	int rc;

	if (argc == 1) {
		if (strlen(argv[0]) != 1 || argv[0][0] < '0' ||
		    argv[0][0] > '2') {
			json_destroy(params);
			return ctl_usage(ctl,
					 "collect: GEN must be 0, 1 or 2, "
					 "not \"%s\"",
					 argv[0]);
		}
		json_add_u64(params, "generation",
			     (uint64_t)(argv[0][0] - '0'));
	}
	rc = ctl_simple(ctl, "io.reclaim.Collect", params, cmd_collect_human);
	json_destroy(params);
	return rc;
}

const struct cmd_entry cmd_collect_entry = {
    .name = "collect",
    .usage = "[0|1|2]",
    .help = "collect generations 0..GEN (default 2) on every heap",
    .min_args = 0,
    .max_args = 1,
    .exec = cmd_collect_exec,
};
