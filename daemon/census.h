/* Census results shared by the Census, Snapshot and Diff methods. */
#ifndef RECLAIMD_CENSUS_H
#define RECLAIMD_CENSUS_H

#include "reclaimd.h"

enum call_status census_call(struct call *call, fanout_done done,
			     uint64_t key);
int census_merge(const struct fanout *fan, struct census *out);
size_t census_published(struct server *srv, rcl_type_stats *out, size_t max);
void census_totals(const struct census *c, uint64_t *objects, uint64_t *bytes);
void census_to_json(const struct census *c, struct json *reply);
void census_diff_to_json(const struct census *before, const struct census *now,
			 struct json *reply);

/* method-snapshot.c: each caller's snapshot. */
#define SNAPSHOT_PRIVILEGED ((uint64_t)UINT32_MAX + 1)
uint64_t snapshot_key(const struct call *call);
struct census_snapshot *snapshot_find(struct server *srv, uint64_t key);

#endif
