/* libreclaim: the umbrella header. */
#ifndef RECLAIM_RECLAIM_H
#define RECLAIM_RECLAIM_H

#include <reclaim/heap.h>
#include <reclaim/types.h>
#include <reclaim/watchdog.h>

#endif
