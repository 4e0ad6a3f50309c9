/* The type table shared by census and diff. */
#include "census-table.h"
#include "human.h"

/* Print types (TypeCount or TypeDiff) with deltas when diff is set. */
void census_table_print(const struct json *types, bool diff)
{
	static const char *const headers[] = {"TYPE", "OBJECTS", "BYTES",
					      "+OBJECTS", "+BYTES"};
	struct table *t = table_create(diff ? 5 : 3, headers);
	char b[HUMAN_LEN];
	struct json *ty;
	int64_t d;
	size_t i;

	for (i = 1; i < (diff ? 5u : 3u); i++)
		table_right(t, i);
	for (i = 0; i < json_size(types); i++) {
		ty = json_at(types, i);
		table_add(t, "%s", json_as_str(json_get(ty, "type")));
		table_add(t, "%llu",
			  (unsigned long long)json_path_u64(ty, "objects"));
		table_add(t, "%s", human_bytes(json_path_u64(ty, "bytes"), b));
		if (!diff)
			continue;
		d = 0;
		json_as_i64(json_get(ty, "objects_delta"), &d);
		table_add(t, "%+lld", (long long)d);
		d = 0;
		json_as_i64(json_get(ty, "bytes_delta"), &d);
		table_add(t, "%s%s", d < 0 ? "-" : "+",
			  human_bytes((uint64_t)(d < 0 ? -d : d), b));
	}
	table_print(t, stdout);
	table_destroy(t);
}
