/* Show or set the collector's count thresholds (and young byte trigger). */
#include <stdlib.h>
#include <string.h>

#include "human.h"
#include "reclaimctl.h"
#include "value.h"

/* Print thresholds and young_bytes found at the given paths. */
static void cmd_thresholds_print(const struct json *thr, uint64_t young)
{
	char b[HUMAN_LEN];

	printf("thresholds %llu,%llu,%llu, young bytes %s\n",
	       (unsigned long long)json_u64(json_at(thr, 0)),
	       (unsigned long long)json_u64(json_at(thr, 1)),
	       (unsigned long long)json_u64(json_at(thr, 2)),
	       young ? human_bytes(young, b) : "off");
}

/* Human output of a SetThresholds reply. */
static int cmd_thresholds_set_human(const struct json *r)
{
	cmd_thresholds_print(json_get(r, "thresholds"),
			     json_path_u64(r, "young_bytes"));
	return CTL_OK;
}

/* Human output of the thresholds part of a Stats reply. */
static int cmd_thresholds_get_human(const struct json *r)
{
	cmd_thresholds_print(json_path(r, "heap.thresholds"),
			     json_path_u64(r, "heap.young_bytes"));
	return CTL_OK;
}

/* Parse A,B,C into an array; NULL if malformed. */
static struct json *cmd_thresholds_parse(const char *s)
{
	struct json *arr;
	uint64_t v[3];
	int i;

	if (value_counts(s, v, 3, UINT32_MAX, NULL, 0) != 0)
		return NULL;
	arr = json_array();
	for (i = 0; i < 3; i++)
		json_add_u64(arr, NULL, v[i]);
	return arr;
}

/* thresholds [A,B,C [YOUNG_BYTES]]; YOUNG_BYTES is a size (8MiB), as
 * heap.young_bytes. */
static int cmd_thresholds_exec(struct ctl *ctl, int argc, char **argv)
{
	char why[VALUE_ERR_LEN];
	struct json *params, *arr;
	uint64_t young;
	int rc;

	if (argc == 0)
		return ctl_simple(ctl, "io.reclaim.Stats", NULL,
				  cmd_thresholds_get_human);
	arr = cmd_thresholds_parse(argv[0]);
	if (arr == NULL)
		return ctl_usage(ctl,
				 "thresholds: expected three counts such "
				 "as 700,10,10, not \"%s\"",
				 argv[0]);
	params = json_object();
	json_attach(params, "thresholds", arr);
	if (argc == 2) {
		if (value_size(argv[1], &young, why, sizeof why) != 0) {
			json_destroy(params);
			return ctl_usage(ctl,
					 "thresholds: YOUNG_BYTES \"%s\" is %s",
					 argv[1], why);
		}
		json_add_u64(params, "young_bytes", young);
	}
	rc = ctl_simple(ctl, "io.reclaim.SetThresholds", params,
			cmd_thresholds_set_human);
	json_destroy(params);
	return rc;
}
const struct cmd_entry cmd_thresholds_entry = {
    .name = "thresholds",
    .usage = "[A,B,C [YOUNG_BYTES]]",
    .help = "show or set the collection thresholds",
    .min_args = 0,
    .max_args = 2,
    .exec = cmd_thresholds_exec,
};
