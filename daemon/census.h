/* Census results shared by the Census, Snapshot and Diff methods. */
#ifndef RECLAIMD_CENSUS_H
#define RECLAIMD_CENSUS_H

#include "reclaimd.h"

int census_merge(const struct fanout *fan, struct census *out);
size_t census_published(struct server *srv, rcl_type_stats *out, size_t max);
void census_totals(const struct census *c, uint64_t *objects, uint64_t *bytes);
void census_to_json(const struct census *c, struct json *reply);
void census_diff_to_json(const struct census *before, const struct census *now,
			 struct json *reply);

#endif
