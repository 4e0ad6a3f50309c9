/*
 * Operator values: the one grammar of sizes, fractions, durations, booleans
 * and lists of counts, shared by reclaimd's configuration (file and -s),
 * reclaimctl's arguments and libreclaim's deprecated text setters.
 * reclaimd.conf(5), VALUES, documents it. Each parser returns 0, or -1 with
 * *out untouched and in err (if not NULL) what the value is instead, to
 * follow "is": "not a size: a whole number of bytes ...". The caller names
 * the key or argument and the value: "heap.young_bytes: bad value \"8MB\":
 * not a size: ...".
 */
#ifndef RECLAIM_COMMON_VALUE_H
#define RECLAIM_COMMON_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libreclaim compiles this file too: none of it is the library's ABI. */
#pragma GCC visibility push(hidden)

/* Room enough for any sentence below. */
#define VALUE_ERR_LEN 256

/* What a size is, for messages that explain it. */
#define VALUE_SIZE_GRAMMAR                                                     \
	"a whole number of bytes with an optional unit K, M, G or T (or "      \
	"KiB, MiB, GiB, TiB: powers of 1024)"

/* "512M", "64KiB", "7B", "4096" -> bytes: digits and an optional unit B,
 * K, M, G, T or KiB... TiB, any case, powers of 1024; nothing else ("8MB",
 * "1.5G", "0x10", "1e3", "8 MiB", "+8K", "auto" are errors). */
int value_size(const char *s, uint64_t *bytes, char *err, size_t errlen);
/* "80%", "80.5%", "0.8" -> 0.8, from 0 to 1 inclusive. */
int value_fraction(const char *s, double *frac, char *err, size_t errlen);
/* "250us", "500ms", "60s", "2m", "1h" -> microseconds; a bare number is
 * seconds; under 10^9 of the unit. */
int value_duration(const char *s, uint64_t *us, char *err, size_t errlen);
/* true/yes/on/1 or false/no/off/0, any case. */
int value_bool(const char *s, bool *out, char *err, size_t errlen);
/* n decimal counts separated by commas ("700,10,10"), each at most max. */
int value_counts(const char *s, uint64_t *out, size_t n, uint64_t max,
		 char *err, size_t errlen);

#pragma GCC visibility pop

#endif
