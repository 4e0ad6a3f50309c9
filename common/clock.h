/* The two clocks reclaimd and reclaimctl read. */
#ifndef RECLAIM_CLOCK_H
#define RECLAIM_CLOCK_H

#include <stdint.h>

/* Microseconds on the wall clock (timestamps shown to people). */
uint64_t now_us(void);
/* Microseconds on the monotonic clock: intervals, deadlines, and
 * sd_notify's MONOTONIC_USEC. */
uint64_t mono_us(void);

#endif
