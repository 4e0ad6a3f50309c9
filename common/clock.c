/* The two clocks (clock.h). */
#include <time.h>

#include "clock.h"

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t now_us(void)
{
	return clock_us(CLOCK_REALTIME);
}

uint64_t mono_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}
