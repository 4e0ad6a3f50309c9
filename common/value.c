/*
 * Operator values (value.h): one parser each, strict, so that a value is
 * read the same by every key and command, and a typo is an error rather
 * than a guess.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "value.h"

/* Format an error into err (if there is room) and return -1. */
__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t len,
						      const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && len > 0) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* A whole decimal number starting with a digit (no sign or space, which
 * strtoull would take); -1 on none or overflow. */
static int number(const char *s, uint64_t *out, char **end)
{
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, end, 10);
	if (errno != 0)
		return -1;
	*out = v;
	return 0;
}

/* The multiplier of a size's unit: none or B, K or KiB, M or MiB, G or GiB,
 * T or TiB, any case, all powers of 1024 (as systemd's MemoryMax=); 0 if
 * it is not one. "MB" is not one: it would read as 10^6 to some. */
static uint64_t unit_mult(const char *p)
{
	static const char units[] = "KMGT";
	const char *u;

	if (*p == '\0' || strcasecmp(p, "B") == 0)
		return 1;
	u = strchr(units, toupper((unsigned char)*p));
	if (u == NULL || (p[1] != '\0' && strcasecmp(p + 1, "iB") != 0))
		return 0;
	return (uint64_t)1 << (10 * (u - units + 1));
}

/* A size; see value.h. */
int value_size(const char *s, uint64_t *bytes, char *err, size_t errlen)
{
	uint64_t v = 0, mult = 0;
	char *end = NULL;
	int rc;

	if (s != NULL && strchr(s, '%') != NULL)
		return fail(err, errlen,
			    "a percentage; a size is " VALUE_SIZE_GRAMMAR);
	rc = s != NULL ? number(s, &v, &end) : -1;
	if (end == NULL || (mult = unit_mult(end)) == 0)
		return fail(err, errlen,
			    "not a size: " VALUE_SIZE_GRAMMAR ", such as 512M");
	if (rc != 0 || v > UINT64_MAX / mult)
		return fail(err, errlen,
			    "too large: a size is at most 2^64-1 bytes");
	*bytes = v * mult;
	return 0;
}

/* A fraction or percentage; see value.h. */
int value_fraction(const char *s, double *frac, char *err, size_t errlen)
{
	char *end;
	double v;
	bool pct;

	if (s == NULL || *s == '\0')
		return fail(err, errlen,
			    "not a percentage (such as 80%% or 0.8): empty");
	errno = 0;
	v = strtod(s, &end);
	pct = *end == '%';
	if (pct)
		end++;
	while (isspace((unsigned char)*end))
		end++;
	if (end == s || *end != '\0' || errno != 0 || !isfinite(v))
		return fail(err, errlen,
			    "not a percentage (such as 80%% or 0.8)");
	if (pct)
		v /= 100;
	if (v < 0 || v > 1)
		return fail(err, errlen,
			    "out of range: a percentage must be from 0%% to "
			    "100%%");
	*frac = v;
	return 0;
}

/* A duration; see value.h. */
int value_duration(const char *s, uint64_t *us, char *err, size_t errlen)
{
	static const struct {
		const char *suffix;
		uint64_t us;
	} units[] = {{"", 1000000}, {"s", 1000000},  {"ms", 1000},
		     {"us", 1},	    {"m", 60000000}, {"h", 3600000000ULL}};
	uint64_t v;
	char *end;
	size_t i;

	if (s != NULL && number(s, &v, &end) == 0 && v < 1000000000) {
		for (i = 0; i < sizeof units / sizeof units[0]; i++) {
			if (strcmp(end, units[i].suffix) == 0) {
				*us = v * units[i].us;
				return 0;
			}
		}
	}
	return fail(
	    err, errlen,
	    "not a duration: a whole number below 10^9 with an "
	    "optional unit us, ms, s, m or h (seconds if none), such as "
	    "500ms, 60s or 2m");
}

/* A boolean; see value.h. */
int value_bool(const char *s, bool *out, char *err, size_t errlen)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	size_t i;

	for (i = 0; s != NULL && i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return fail(err, errlen,
		    "not a boolean: true or false (also yes/no, on/off, 1/0)");
}

/* A list of counts; see value.h. */
int value_counts(const char *s, uint64_t *out, size_t n, uint64_t max,
		 char *err, size_t errlen)
{
	uint64_t v[8];
	const char *p = s;
	char *end;
	size_t i;

	for (i = 0; p != NULL && i < n && i < 8; i++) {
		if (number(p, &v[i], &end) != 0 || v[i] > max)
			break;
		if (*end != (i == n - 1 ? '\0' : ','))
			break;
		p = end + 1;
	}
	if (i != n || n > 8)
		return fail(err, errlen,
			    "not %zu whole numbers separated by commas, each "
			    "at most %llu",
			    n, (unsigned long long)max);
	memcpy(out, v, n * sizeof *v);
	return 0;
}
