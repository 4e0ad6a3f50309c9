/* What /seed/leaky and /seed/fixed share (seed.c). */
#ifndef RECLAIMD_TASKS_SEED_H
#define RECLAIMD_TASKS_SEED_H

#include <reclaim/types.h>
#include <reclaimd/task.h>

#define SEED_DEFAULT_MB 20
#define SEED_MAX_MB 512

void *seed_payload(rcl_runner *r);
void seed_some_task(rcl_runner *r, void *bigdata);
void seed_finish(rcl_runner *r);
enum rcl_step seed_done(rcl_runner *r);

#endif
