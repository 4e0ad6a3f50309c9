/* What the cycle collector reclaimed since the last report (reading empties
 * it): types by bytes, then each cycle's path through field names. */
#include <stdio.h>
#include <string.h>

#include "human.h"
#include "reclaimctl.h"

/* The types table. */
static void cmd_garbage_types(const struct json *types)
{
	static const char *const headers[] = {"TYPE", "COUNT", "BYTES"};
	struct table *t = table_create(3, headers);
	char b[HUMAN_LEN];
	struct json *ty;

	table_right(t, 1);
	table_right(t, 2);
	for (ty = json_child(types); ty != NULL; ty = json_next(ty)) {
		table_add(t, "%s", json_as_str(json_get(ty, "type")));
		table_add(t, "%llu",
			  (unsigned long long)json_path_u64(ty, "count"));
		table_add(t, "%s", human_bytes(json_path_u64(ty, "bytes"), b));
	}
	table_print(t, stdout);
	table_destroy(t);
}

/* The fields that close a cycle, from its path "A -f-> B -g-> A": "A.f
 * B.g", the references to clear or make weak to free it without the
 * collector. */
static void cmd_garbage_fields(const char *path, char *buf, size_t len)
{
	const char *p = path, *arrow, *type = path;
	size_t off = 0;

	buf[0] = '\0';
	while ((p = strstr(p, " -")) != NULL && off < len) {
		arrow = strstr(p, "-> ");
		if (arrow == NULL)
			break;
		off += (size_t)snprintf(buf + off, len - off, "%s%.*s.%.*s",
					off ? " " : "", (int)(p - type), type,
					(int)(arrow - p - 2), p + 2);
		type = arrow + 3;
		p = type;
	}
}

/* The cycles table: how often each shape was found, which fields close
 * it. */
static void cmd_garbage_cycles(const struct json *cycles)
{
	static const char *const headers[] = {"FOUND", "CYCLE",
					      "FIELDS TO BREAK OR MAKE WEAK"};
	struct table *t = table_create(3, headers);
	const char *path;
	char fields[512];
	struct json *c;

	table_right(t, 0);
	for (c = json_child(cycles); c != NULL; c = json_next(c)) {
		path = json_as_str(json_get(c, "path"));
		cmd_garbage_fields(path ? path : "", fields, sizeof fields);
		table_add(t, "%llu",
			  (unsigned long long)json_path_u64(c, "count"));
		table_add(t, "%s", path ? path : "?");
		table_add(t, "%s", fields);
	}
	putchar('\n');
	table_print(t, stdout);
	table_destroy(t);
}

/* Human output of a Garbage reply. */
static int cmd_garbage_human(const struct json *reply)
{
	bool debug = false, truncated = false;
	char b[HUMAN_LEN];

	json_as_bool(json_get(reply, "debug_leak"), &debug);
	json_as_bool(json_get(reply, "truncated"), &truncated);
	if (!debug)
		puts("leak debugging is off (reclaimctl debug leak on)");
	if (json_size(json_get(reply, "types")) == 0) {
		puts("no garbage since the last report");
		return CTL_OK;
	}
	printf("%llu objects, %s, in %llu collections%s\n\n",
	       (unsigned long long)json_path_u64(reply, "objects"),
	       human_bytes(json_path_u64(reply, "bytes"), b),
	       (unsigned long long)json_path_u64(reply, "collections"),
	       truncated ? " (bounds reached: counts are lower bounds)" : "");
	cmd_garbage_types(json_get(reply, "types"));
	if (json_size(json_get(reply, "cycles")) > 0)
		cmd_garbage_cycles(json_get(reply, "cycles"));
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
