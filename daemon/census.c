/* Census results: merge the workers' answers by type, render, compare. */
#include <stdio.h>
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

/* Add c's entries into out by key; -1 if out of memory. */
static int census_add_entries(struct census *out, const struct census *c)
{
	struct census_entry *e;
	size_t j;

	for (j = 0; j < c->n; j++) {
		e = census_slot(out, c->types[j].type);
		if (e == NULL)
			return -1;
		e->objects += c->types[j].objects;
		e->bytes += c->types[j].bytes;
	}
	return 0;
}

/* Add c's census by site into out's, made on first need. */
static int census_add_sites(struct census *out, const struct census *c)
{
	if (c->by_site == NULL)
		return 0;
	if (out->by_site == NULL &&
	    (out->by_site = calloc(1, sizeof *out->by_site)) == NULL)
		return -1;
	return census_add_entries(out->by_site, c->by_site);
}

/* Every worker's census summed by type (and by site) into out (empty
 * before); -1, out empty, if a worker or the merge ran out of memory. */
int census_merge(const struct fanout *fan, struct census *out)
{
	const struct census *c;
	size_t i;

	memset(out, 0, sizeof *out);
	for (i = 0; i < fan->n; i++) {
		c = &fan->cmds[i].out.census;
		if (c->oom || census_add_entries(out, c) != 0 ||
		    census_add_sites(out, c) != 0) {
			census_finish(out);
			return -1;
		}
	}
	if (out->n > 1) /* qsort(NULL, 0) is undefined: no worker has objects */
		qsort(out->types, out->n, sizeof *out->types, census_cmp);
	if (out->by_site != NULL && out->by_site->n > 1)
		qsort(out->by_site->types, out->by_site->n,
		      sizeof *out->by_site->types, census_cmp);
	return 0;
}

/* The fields of a census-by-site key into o: "type", "task", "file",
 * "line", "function". */
static void census_site_fields(const char *key, struct json *o)
{
	static const char *const names[CENSUS_SITE_FIELDS] = {
	    "type", "task", "file", "line", "function"};
	const char *end;
	char buf[512];
	size_t i, len;

	for (i = 0; i < CENSUS_SITE_FIELDS; i++) {
		end = strchr(key, CENSUS_SEP);
		len = end != NULL ? (size_t)(end - key) : strlen(key);
		snprintf(buf, sizeof buf, "%.*s", (int)len, key);
		if (i == 3)
			json_add_u64(o, names[i], strtoull(buf, NULL, 10));
		else
			json_add_str(o, names[i],
				     i == 2 ? forensics_source_path(buf) : buf);
		key += len + (end != NULL);
	}
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

/* {"types": [{"type", "objects", "bytes"}...], "objects", "bytes",
 *  "sites": [{"type", "task", "file", "line", "function", "objects",
 *  "bytes"}...]} (sites empty unless leak debugging records them) */
void census_to_json(const struct census *c, struct json *reply)
{
	struct json *arr = json_add_array(reply, "types"), *t;
	const struct census *bs = c->by_site;
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
	arr = json_add_array(reply, "sites");
	for (i = 0; bs != NULL && i < bs->n; i++) {
		t = json_add_object(arr, NULL);
		census_site_fields(bs->types[i].type, t);
		json_add_u64(t, "objects", bs->types[i].objects);
		json_add_u64(t, "bytes", bs->types[i].bytes);
	}
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

/* Entries that rose from before to now into arr, as TypeDiff entries
 * (site: as SiteDiff entries, the key's fields spelled out). */
static void census_rose(const struct census *before, const struct census *now,
			struct json *arr, bool site)
{
	struct census empty = {0};
	struct census_entry b;
	struct json *t;
	size_t i;

	if (before == NULL)
		before = &empty;
	for (i = 0; now != NULL && i < now->n; i++) {
		b = census_find(before, now->types[i].type);
		if (now->types[i].objects <= b.objects &&
		    now->types[i].bytes <= b.bytes)
			continue;
		t = json_add_object(arr, NULL);
		if (site)
			census_site_fields(now->types[i].type, t);
		else
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

/* Types that rose from before to now, and the sites (with their tasks)
 * that made the difference, while leak debugging records them. */
void census_diff_to_json(const struct census *before, const struct census *now,
			 struct json *reply)
{
	census_rose(before, now, json_add_array(reply, "types"), false);
	census_rose(before->by_site, now->by_site,
		    json_add_array(reply, "sites"), true);
}

/* Free a census; a zeroed one is a no-op. */
void census_finish(struct census *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->types[i].type);
	free(c->types);
	c->types = NULL;
	c->n = 0;
	if (c->by_site != NULL) {
		census_finish(c->by_site);
		free(c->by_site);
		c->by_site = NULL;
	}
}

/* Ask every worker for its census; done merges the answers. key: the
 * caller's snapshot (method-snapshot.c), kept in fan->arg, as the peer may
 * be gone when the census is. Census, Snapshot and Diff start here. */
enum call_status census_call(struct call *call, fanout_done done, uint64_t key)
{
	struct fanout *fan;

	fan = fanout_create(call->srv, call, WCMD_CENSUS, done);
	if (fan == NULL)
		return call_oom(call);
	fan->arg = (void *)(uintptr_t)key;
	fanout_send(fan);
	return CALL_ASYNC;
}
