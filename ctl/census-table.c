/* The type and site tables shared by census and diff. */
#include <stdio.h>

#include "census-table.h"
#include "human.h"

/* The counts of one entry (TypeCount or TypeDiff, or their site forms),
 * with deltas when diff is set. */
static void census_counts(struct table *t, const struct json *e, bool diff)
{
	char b[HUMAN_LEN];
	int64_t d;

	table_add(t, "%llu", (unsigned long long)json_path_u64(e, "objects"));
	table_add(t, "%s", human_bytes(json_path_u64(e, "bytes"), b));
	if (!diff)
		return;
	d = 0;
	json_as_i64(json_get(e, "objects_delta"), &d);
	table_add(t, "%+lld", (long long)d);
	d = 0;
	json_as_i64(json_get(e, "bytes_delta"), &d);
	table_add(t, "%s%s", d < 0 ? "-" : "+",
		  human_bytes((uint64_t)(d < 0 ? -d : d), b));
}

/* Print types (TypeCount or TypeDiff) with deltas when diff is set. */
void census_table_print(const struct json *types, bool diff)
{
	static const char *const headers[] = {"TYPE", "OBJECTS", "BYTES",
					      "+OBJECTS", "+BYTES"};
	struct table *t = table_create(diff ? 5 : 3, headers);
	struct json *ty;
	size_t i;

	for (i = 1; i < (diff ? 5u : 3u); i++)
		table_right(t, i);
	for (i = 0; i < json_size(types); i++) {
		ty = json_at(types, i);
		table_add(t, "%s", json_as_str(json_get(ty, "type")));
		census_counts(t, ty, diff);
	}
	table_print(t, stdout);
	table_destroy(t);
}

/* The cell that names a site entry s: "TYPE at FILE:LINE (FUNCTION)". */
void census_site_cell(struct table *t, const struct json *s)
{
	const char *file = json_as_str(json_get(s, "file"));

	if (file != NULL && *file != '\0')
		table_add(t, "%s at %s:%llu (%s)",
			  json_as_str(json_get(s, "type")), file,
			  (unsigned long long)json_path_u64(s, "line"),
			  json_as_str(json_get(s, "function")));
	else
		table_add(t, "%s at an unknown site",
			  json_as_str(json_get(s, "type")));
}

/* Print live objects by the site that made them and their task (leak
 * debugging): "Task at daemon/tasks/seed-leaky.c:85 (leaky_gen)". */
void census_sites_print(const struct json *sites, bool diff)
{
	static const char *const headers[] = {"MADE AT", "TASK", "OBJECTS",
					      "BYTES", "+OBJECTS", "+BYTES"};
	struct table *t;
	struct json *s;
	size_t i;

	if (json_size(sites) == 0)
		return;
	t = table_create(diff ? 6 : 4, headers);
	for (i = 2; i < (diff ? 6u : 4u); i++)
		table_right(t, i);
	for (i = 0; i < json_size(sites); i++) {
		s = json_at(sites, i);
		census_site_cell(t, s);
		table_add(t, "%s", json_as_str(json_get(s, "task")));
		census_counts(t, s, diff);
	}
	putchar('\n');
	table_print(t, stdout);
	table_destroy(t);
}
