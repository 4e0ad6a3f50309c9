/* The memory watchdog's view: usage against the limit, level, actions. */
#include "human.h"
#include "reclaimctl.h"

/* A byte figure from the reply. */
static const char *cmd_watchdog_bytes(const struct json *r, const char *key,
				      char buf[HUMAN_LEN])
{
	return human_bytes(json_path_u64(r, key), buf);
}

/* Where a suspect's survivors were made (leak debugging records sites):
 * "ChurnNode survivors made at daemon/tasks/churn.c:113 (churn_node)". */
static void cmd_watchdog_suspect_sites(const struct json *suspect)
{
	const char *type = json_as_str(json_get(suspect, "type"));
	struct json *e;

	for (e = json_child(json_get(suspect, "sites")); e != NULL;
	     e = json_next(e)) {
		printf("  %llu %s made at %s:%llu (%s) for %s\n",
		       (unsigned long long)json_path_u64(e, "objects"),
		       type ? type : "?", json_as_str(json_get(e, "file")),
		       (unsigned long long)json_path_u64(e, "line"),
		       json_as_str(json_get(e, "function")),
		       json_as_str(json_get(e, "task")));
	}
}

/* The types the last leak-suspected event named, as a table. */
static void cmd_watchdog_suspects(const struct json *arr)
{
	static const char *const headers[] = {"SUSPECT TYPE", "SURVIVORS",
					      "BEFORE"};
	struct table *t;
	struct json *s;

	if (json_size(arr) == 0)
		return;
	t = table_create(3, headers);
	table_right(t, 1);
	table_right(t, 2);
	for (s = json_child(arr); s != NULL; s = json_next(s)) {
		table_add(t, "%s", json_as_str(json_get(s, "type")));
		table_add(t, "%llu",
			  (unsigned long long)json_path_u64(s, "last"));
		table_add(t, "%llu",
			  (unsigned long long)json_path_u64(s, "first"));
	}
	putchar('\n');
	table_print(t, stdout);
	table_destroy(t);
	for (s = json_child(arr); s != NULL; s = json_next(s))
		cmd_watchdog_suspect_sites(s);
}

/* Where memory goes, and the cgroup's OOM kills. */
static void cmd_watchdog_memory(const struct json *r)
{
	char a[HUMAN_LEN], b[HUMAN_LEN], c[HUMAN_LEN];

	kv_print("rss", "%s: heaps %s, unaccounted %s",
		 cmd_watchdog_bytes(r, "memory.rss_bytes", a),
		 cmd_watchdog_bytes(r, "memory.heaps_bytes", b),
		 cmd_watchdog_bytes(r, "memory.unaccounted_bytes", c));
	if (json_as_str(json_get(r, "cgroup")) == NULL ||
	    *json_as_str(json_get(r, "cgroup")) == '\0') {
		kv_print("cgroup memory", "no memory cgroup");
		return;
	}
	kv_print("cgroup memory", "anon %s, file %s, kernel %s",
		 cmd_watchdog_bytes(r, "memory.cgroup_anon_bytes", a),
		 cmd_watchdog_bytes(r, "memory.cgroup_file_bytes", b),
		 cmd_watchdog_bytes(r, "memory.cgroup_kernel_bytes", c));
	kv_print("OOM kills", "%llu (%llu before this start)",
		 (unsigned long long)json_path_u64(r, "oom_kills_total"),
		 (unsigned long long)json_path_u64(r, "oom_kills_at_start"));
}

/* Human output of a Watchdog reply. */
static int cmd_watchdog_human(const struct json *r)
{
	char a[HUMAN_LEN], b[HUMAN_LEN];
	bool enabled = false, shedding = false;

	json_as_bool(json_get(r, "enabled"), &enabled);
	json_as_bool(json_get(r, "shedding"), &shedding);
	kv_print("enabled", "%s", enabled ? "yes" : "no");
	kv_print("level", "%s%s", json_as_str(json_get(r, "level")),
		 shedding ? " (shedding)" : "");
	kv_print("usage", "%s of %s", cmd_watchdog_bytes(r, "usage_bytes", a),
		 cmd_watchdog_bytes(r, "limit_bytes", b));
	cmd_watchdog_memory(r);
	kv_print("limit from", "%s", json_as_str(json_get(r, "limit_source")));
	if (json_as_str(json_get(r, "limit_reason")) != NULL &&
	    *json_as_str(json_get(r, "limit_reason")) != '\0')
		kv_print("because", "%s",
			 json_as_str(json_get(r, "limit_reason")));
	kv_print("soft / hard", "%s / %s",
		 cmd_watchdog_bytes(r, "soft_bytes", a),
		 cmd_watchdog_bytes(r, "hard_bytes", b));
	kv_print(
	    "forced collections", "%llu",
	    (unsigned long long)json_path_u64(r, "forced_collections_total"));
	kv_print("times shedding began", "%llu",
		 (unsigned long long)json_path_u64(r, "shed_total"));
	kv_print("leaks suspected", "%llu",
		 (unsigned long long)json_path_u64(r, "leak_suspected_total"));
	kv_print("notifications", "%s", json_as_str(json_get(r, "notify")));
	kv_print("refused allocations", "%llu (%s)",
		 (unsigned long long)json_path_u64(r, "admission.refused_total"),
		 cmd_watchdog_bytes(r, "admission.refused_bytes_total", a));
	cmd_watchdog_suspects(json_get(r, "leak_suspects"));
	return CTL_OK;
}

/* watchdog */
static int cmd_watchdog_exec(struct ctl *ctl, int argc, char **argv)
{
	return ctl_simple(ctl, "io.reclaim.Watchdog", NULL, cmd_watchdog_human);
}

const struct cmd_entry cmd_watchdog_entry = {
    .name = "watchdog",
    .usage = "",
    .help = "memory usage against the limit, level, forced collections",
    .min_args = 0,
    .max_args = 0,
    .exec = cmd_watchdog_exec,
};
