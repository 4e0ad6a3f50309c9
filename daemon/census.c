/* Census results: merge the workers' answers by type, render, compare. */
#include <stdlib.h>
#include <string.h>

#include "census.h"
#include "reclaimd.h"

/* The entry for type in c, added if missing; NULL if out of memory. */
static struct census_entry *census_slot(struct census *c, const char *type)
{
	struct census_entry *types;
	size_t i;

	for (i = 0; i < c->n; i++) {
		if (strcmp(c->types[i].type, type) == 0)
			return &c->types[i];
	}
	types = realloc(c->types, (c->n + 1) * sizeof *c->types);
	if (types == NULL)
		return NULL;
	c->types = types;
	memset(&c->types[c->n], 0, sizeof c->types[0]);
	c->types[c->n].type = strdup(type);
	if (c->types[c->n].type == NULL)
		return NULL;
	return &c->types[c->n++];
}

/* Sort by bytes, largest first, then by name. */
static int census_cmp(const void *a, const void *b)
{
	const struct census_entry *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return strcmp(x->type, y->type);
}

/* Every worker's census summed by type into out (empty before); -1, out
 * empty, if a worker or the merge ran out of memory. */
int census_merge(const struct fanout *fan, struct census *out)
{
	const struct census *c;
	struct census_entry *e;
	size_t i, j;

	memset(out, 0, sizeof *out);
	for (i = 0; i < fan->n; i++) {
		c = &fan->cmds[i].out.census;
		for (j = 0; j < c->n; j++) {
			e = census_slot(out, c->types[j].type);
			if (e == NULL)
				break;
			e->objects += c->types[j].objects;
			e->bytes += c->types[j].bytes;
		}
		if (c->oom || j < c->n) {
			census_finish(out);
			return -1;
		}
	}
	if (out->n > 1) /* qsort(NULL, 0) is undefined: no worker has objects */
		qsort(out->types, out->n, sizeof *out->types, census_cmp);
	return 0;
}

/* Add n entries of in to out[0..*nout) by type, at most max entries. */
static void census_add(rcl_type_stats *out, size_t *nout, size_t max,
		       const rcl_type_stats *in, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		for (k = 0; k < *nout && out[k].type != in[i].type; k++)
			;
		if (k == *nout) {
			if (*nout == max)
				continue;
			out[k] = in[i];
			out[k].objects = out[k].bytes = 0;
			(*nout)++;
		}
		out[k].objects += in[i].objects;
		out[k].bytes += in[i].bytes;
	}
}

/* The watchdog's census hook (main thread, synchronous): what the workers
 * last published, merged by type. At most max entries. */
size_t census_published(struct server *srv, rcl_type_stats *out, size_t max)
{
	rcl_type_stats one[RCL_WATCHDOG_CENSUS_MAX];
	size_t i, n = 0, k;

	for (i = 0; i < srv->nworkers; i++) {
		k = worker_read_census(srv->workers[i], one,
				       RCL_WATCHDOG_CENSUS_MAX);
		census_add(out, &n, max, one, k);
	}
	return n;
}

/* Totals of a census. */
void census_totals(const struct census *c, uint64_t *objects, uint64_t *bytes)
{
	size_t i;

	*objects = *bytes = 0;
	for (i = 0; i < c->n; i++) {
		*objects += c->types[i].objects;
		*bytes += c->types[i].bytes;
	}
}

/* {"types": [{"type", "objects", "bytes"}...], "objects", "bytes"} */
void census_to_json(const struct census *c, struct json *reply)
{
	struct json *arr = json_add_array(reply, "types"), *t;
	uint64_t objects, bytes;
	size_t i;

	for (i = 0; i < c->n; i++) {
		t = json_add_object(arr, NULL);
		json_add_str(t, "type", c->types[i].type);
		json_add_u64(t, "objects", c->types[i].objects);
		json_add_u64(t, "bytes", c->types[i].bytes);
	}
	census_totals(c, &objects, &bytes);
	json_add_u64(reply, "objects", objects);
	json_add_u64(reply, "bytes", bytes);
}

/* What was in before for type, or zeros. */
static struct census_entry census_find(const struct census *c, const char *type)
{
	struct census_entry none = {0};
	size_t i;

	for (i = 0; i < c->n; i++) {
		if (strcmp(c->types[i].type, type) == 0)
			return c->types[i];
	}
	return none;
}

/* Types that rose from before to now, as TypeDiff entries. */
void census_diff_to_json(const struct census *before, const struct census *now,
			 struct json *reply)
{
	struct json *arr = json_add_array(reply, "types"), *t;
	struct census_entry b;
	size_t i;

	for (i = 0; i < now->n; i++) {
		b = census_find(before, now->types[i].type);
		if (now->types[i].objects <= b.objects &&
		    now->types[i].bytes <= b.bytes)
			continue;
		t = json_add_object(arr, NULL);
		json_add_str(t, "type", now->types[i].type);
		json_add_u64(t, "objects", now->types[i].objects);
		json_add_u64(t, "bytes", now->types[i].bytes);
		json_add_i64(t, "objects_delta",
			     (int64_t)now->types[i].objects -
				 (int64_t)b.objects);
		json_add_i64(t, "bytes_delta",
			     (int64_t)now->types[i].bytes - (int64_t)b.bytes);
	}
}
