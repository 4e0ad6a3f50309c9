/* What the cycle collector reclaimed since the last report (reading empties
 * it): types by bytes, each cycle's path through field names and the
 * rcl_new() calls that made its members, and the tasks that made it. With
 * --check, the exit status says whether there was any (for a plugin's
 * tests). */
#include <stdio.h>
#include <string.h>

#include "human.h"
#include "census-table.h"
#include "reclaimctl.h"

/* What the human output shows (--by). */
enum garbage_view {
	VIEW_TYPE = 1,
	VIEW_CYCLE = 2,
	VIEW_ROUTE = 4,
};

static unsigned garbage_view = VIEW_TYPE | VIEW_CYCLE | VIEW_ROUTE;

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

/* Where the members of the cycle path were made: "Task at
 * daemon/tasks/seed-leaky.c:85 (leaky_gen)", how many, for which task. */
static void cmd_garbage_sites(const struct json *sites, const char *path)
{
	static const char *const headers[] = {"MADE", "WHERE", "TASK"};
	struct table *t = NULL;
	const char *cycle;
	struct json *s;

	for (s = json_child(sites); s != NULL; s = json_next(s)) {
		cycle = json_as_str(json_get(s, "cycle"));
		if (cycle == NULL || strcmp(cycle, path) != 0)
			continue;
		if (t == NULL) {
			t = table_create(3, headers);
			table_right(t, 0);
		}
		table_add(t, "%llu",
			  (unsigned long long)json_path_u64(s, "count"));
		census_site_cell(t, s);
		table_add(t, "%s", json_as_str(json_get(s, "task")));
	}
	if (t == NULL)
		return;
	printf("\n%s, made at:\n", path);
	table_print(t, stdout);
	table_destroy(t);
}

/* Each cycle's sites. */
static void cmd_garbage_cycle_sites(const struct json *reply)
{
	const struct json *sites = json_get(reply, "sites"), *c;
	const char *path;

	if (json_size(sites) == 0)
		return;
	for (c = json_child(json_get(reply, "cycles")); c != NULL;
	     c = json_next(c)) {
		path = json_as_str(json_get(c, "path"));
		if (path != NULL)
			cmd_garbage_sites(sites, path);
	}
}

/* The garbage by the task that made it. */
static void cmd_garbage_tasks(const struct json *tasks)
{
	static const char *const headers[] = {"TASK", "TYPE", "COUNT",
					      "BYTES"};
	struct table *t = table_create(4, headers);
	char b[HUMAN_LEN];
	struct json *r;

	table_right(t, 2);
	table_right(t, 3);
	for (r = json_child(tasks); r != NULL; r = json_next(r)) {
		table_add(t, "%s", json_as_str(json_get(r, "task")));
		table_add(t, "%s", json_as_str(json_get(r, "type")));
		table_add(t, "%llu",
			  (unsigned long long)json_path_u64(r, "count"));
		table_add(t, "%s", human_bytes(json_path_u64(r, "bytes"), b));
	}
	putchar('\n');
	table_print(t, stdout);
	table_destroy(t);
}

/* Human output of a Garbage reply, the views garbage_view asks for. */
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
	printf("%llu objects, %s, in %llu collections%s\n",
	       (unsigned long long)json_path_u64(reply, "objects"),
	       human_bytes(json_path_u64(reply, "bytes"), b),
	       (unsigned long long)json_path_u64(reply, "collections"),
	       truncated ? " (bounds reached: counts are lower bounds)" : "");
	if (garbage_view & VIEW_TYPE) {
		putchar('\n');
		cmd_garbage_types(json_get(reply, "types"));
	}
	if ((garbage_view & VIEW_CYCLE) &&
	    json_size(json_get(reply, "cycles")) > 0) {
		cmd_garbage_cycles(json_get(reply, "cycles"));
		cmd_garbage_cycle_sites(reply);
	}
	if ((garbage_view & VIEW_ROUTE) &&
	    json_size(json_get(reply, "tasks")) > 0)
		cmd_garbage_tasks(json_get(reply, "tasks"));
	return CTL_OK;
}

/* --check: the report, and whether it found anything: 0 none, 1 some;
 * with leak debugging off there is nothing to check with (2). */
static int cmd_garbage_check(struct ctl *ctl)
{
	struct json *reply;
	bool debug = false;
	int rc;

	rc = ctl_call(ctl, "io.reclaim.Garbage", NULL, &reply);
	if (rc != CTL_OK)
		return rc;
	json_as_bool(json_get(reply, "debug_leak"), &debug);
	if (!debug) {
		json_destroy(reply);
		return ctl_usage(ctl, "garbage --check: leak debugging is off, "
				      "nothing was recorded (reclaimctl debug "
				      "leak on)");
	}
	rc = json_path_u64(reply, "objects") > 0 ? CTL_GARBAGE_FOUND : CTL_OK;
	if (ctl->json)
		ctl_print_json(reply);
	else
		cmd_garbage_human(reply);
	json_destroy(reply);
	return rc;
}

/* The view named by --by's value; 0 if none. */
static unsigned cmd_garbage_by(const char *name)
{
	if (strcmp(name, "type") == 0)
		return VIEW_TYPE;
	if (strcmp(name, "cycle") == 0)
		return VIEW_CYCLE;
	if (strcmp(name, "route") == 0 || strcmp(name, "task") == 0)
		return VIEW_ROUTE;
	return 0;
}

/* garbage [--by route|type|cycle] [--check] */
static int cmd_garbage_exec(struct ctl *ctl, int argc, char **argv)
{
	bool check = false;
	int i;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--check") == 0) {
			check = true;
		} else if (strcmp(argv[i], "--by") == 0 && i + 1 < argc &&
			   cmd_garbage_by(argv[i + 1]) != 0) {
			garbage_view = cmd_garbage_by(argv[++i]);
		} else {
			return ctl_usage(ctl, "garbage: bad argument \"%s\"",
					 argv[i]);
		}
	}
	if (check)
		return cmd_garbage_check(ctl);
	return ctl_simple(ctl, "io.reclaim.Garbage", NULL, cmd_garbage_human);
}

const struct cmd_entry cmd_garbage_entry = {
    .name = "garbage",
    .usage = "[--by route|type|cycle] [--check]",
    .help = "what the collector reclaimed since the last report, by type, "
	    "cycle and task; --check exits 1 if there was any",
    .min_args = 0,
    .max_args = 3,
    .exec = cmd_garbage_exec,
};
