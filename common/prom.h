/* Prometheus text (exposition format 0.0.4) from the stats snapshot. */
#ifndef RECLAIM_COMMON_PROM_H
#define RECLAIM_COMMON_PROM_H

#include "stats.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

char *prom_render(const struct stats_snapshot *s);

#endif
