/* The type table shared by census and diff. */
#ifndef RECLAIMCTL_CENSUS_TABLE_H
#define RECLAIMCTL_CENSUS_TABLE_H

#include "reclaimctl.h"

void census_table_print(const struct json *types, bool diff);
void census_sites_print(const struct json *sites, bool diff);
void census_site_cell(struct table *t, const struct json *s);

#endif
