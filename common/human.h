/* Numbers for people: sizes and durations. */
#ifndef RECLAIM_COMMON_HUMAN_H
#define RECLAIM_COMMON_HUMAN_H

#include <stddef.h>
#include <stdint.h>

/* Big enough for any rendering below. */
#define HUMAN_LEN 32

const char *human_bytes(uint64_t bytes, char buf[HUMAN_LEN]);
const char *human_ns(uint64_t ns, char buf[HUMAN_LEN]);

#endif
