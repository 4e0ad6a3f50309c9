/*
 * The watchdog's configuration: checking a whole configuration, each
 * failure a sentence for the operator; and the deprecated text setters
 * (rcl_watchdog_config_set, _parse_size, _parse_fraction), kept for the ABI
 * on common/value.c's grammar. The library takes typed settings: reclaimd
 * parses its own watchdog.* keys.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../common/value.h"
#include "watchdog-internal.h"

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

/* An error about value s from a value.h sentence: "'8MB' is not a size". */
static int fail_value(char *err, size_t len, const char *s, const char *why)
{
	return fail(err, len, "'%s' is %s", s != NULL ? s : "", why);
}

/*
 * The deprecated setters (watchdog.h) wrap common/value.c, the grammar the
 * daemon parses its values with, compiled in with hidden visibility; they
 * call these, not each other, since the compiler warns of a call to a
 * deprecated function.
 */

/* A size as value_size reads it, or "auto" for 0. */
static int size_or_auto(const char *s, uint64_t *bytes, char *err,
			size_t errlen)
{
	char why[VALUE_ERR_LEN];

	if (s != NULL && strcasecmp(s, "auto") == 0) {
		*bytes = 0;
		return 0;
	}
	if (value_size(s, bytes, why, sizeof why) != 0)
		return fail_value(err, errlen, s, why);
	return 0;
}

/* "80%", "80.5%" or "0.8", as value_fraction reads it. */
static int fraction(const char *s, double *frac, char *err, size_t errlen)
{
	char why[VALUE_ERR_LEN];

	if (value_fraction(s, frac, why, sizeof why) != 0)
		return fail_value(err, errlen, s, why);
	return 0;
}

/* value_bool, its sentence naming the value. */
static int set_bool(const char *s, bool *out, char *err, size_t errlen)
{
	char why[VALUE_ERR_LEN];

	if (value_bool(s, out, why, sizeof why) != 0)
		return fail_value(err, errlen, s, why);
	return 0;
}

/* Deprecated; see watchdog.h. */
int rcl_watchdog_parse_size(const char *s, uint64_t *bytes, char *err,
			    size_t errlen)
{
	return size_or_auto(s, bytes, err, errlen);
}

/* Deprecated; see watchdog.h. */
int rcl_watchdog_parse_fraction(const char *s, double *frac, char *err,
				size_t errlen)
{
	return fraction(s, frac, err, errlen);
}

/* "auto", or an absolute cgroup directory that fits. */
static int set_cgroup(rcl_watchdog_config *cfg, const char *value, char *why,
		      size_t len)
{
	if (strcasecmp(value, "auto") == 0 || value[0] == '\0') {
		cfg->cgroup[0] = '\0';
		return 0;
	}
	if (value[0] != '/') {
		snprintf(why, len, "'%s' is not an absolute directory", value);
		return -1;
	}
	if (strlen(value) >= sizeof cfg->cgroup) {
		snprintf(why, len, "the directory is longer than %zu bytes",
			 sizeof cfg->cgroup - 1);
		return -1;
	}
	strcpy(cfg->cgroup, value);
	return 0;
}

/* Deprecated: set one key from text; see watchdog.h. reclaimd sets the
 * fields itself (daemon/config.c). */
int rcl_watchdog_config_set(rcl_watchdog_config *cfg, const char *key,
			    const char *value, char *err, size_t errlen)
{
	char why[VALUE_ERR_LEN + 64];
	int rc;

	if (key == NULL || value == NULL)
		return fail(err, errlen, "missing key or value");
	why[0] = '\0';
	if (strcmp(key, "enabled") == 0) {
		rc = set_bool(value, &cfg->enabled, why, sizeof why);
	} else if (strcmp(key, "limit") == 0) {
		rc = size_or_auto(value, &cfg->limit_bytes, why, sizeof why);
		if (rc == 0 && cfg->limit_bytes == 0 &&
		    strcasecmp(value, "auto") != 0) {
			snprintf(why, sizeof why,
				 "a limit of 0 bytes is not a limit "
				 "(use 'auto' for the cgroup's)");
			rc = -1;
		}
	} else if (strcmp(key, "soft") == 0) {
		rc = fraction(value, &cfg->soft, why, sizeof why);
	} else if (strcmp(key, "hard") == 0) {
		rc = fraction(value, &cfg->hard, why, sizeof why);
	} else if (strcmp(key, "hysteresis") == 0) {
		rc = fraction(value, &cfg->hysteresis, why, sizeof why);
	} else if (strcmp(key, "cgroup") == 0) {
		rc = set_cgroup(cfg, value, why, sizeof why);
	} else {
		return fail(err, errlen, "watchdog.%s: unknown key", key);
	}
	if (rc != 0)
		return fail(err, errlen, "watchdog.%s: %s", key, why);
	return 0;
}

/* Check the levels against each other. */
static int validate_levels(const rcl_watchdog_config *c, char *err, size_t len)
{
	if (!(c->soft > 0 && c->soft <= 1) || !(c->hard > 0 && c->hard <= 1))
		return fail(err, len,
			    "watchdog.soft and watchdog.hard must be above 0%% "
			    "and at most 100%% of the limit (soft %g%%, hard "
			    "%g%%)",
			    c->soft * 100, c->hard * 100);
	if (c->soft > c->hard)
		return fail(err, len,
			    "watchdog.soft (%g%%) is above watchdog.hard "
			    "(%g%%): forced collection must begin before "
			    "shedding",
			    c->soft * 100, c->hard * 100);
	if (!(c->hysteresis >= 0 && c->hysteresis < c->soft))
		return fail(err, len,
			    "watchdog.hysteresis (%g%%) must be at least 0%% "
			    "and below watchdog.soft (%g%%)",
			    c->hysteresis * 100, c->soft * 100);
	return 0;
}

/* Check polling, pacing and the CPU cap. */
static int validate_tuning(const rcl_watchdog_config *c, char *err, size_t len)
{
	if (c->poll_min_ms == 0 || c->poll_min_ms > c->poll_max_ms)
		return fail(err, len,
			    "poll interval: minimum %ums must be above 0 and "
			    "at most the maximum %ums",
			    c->poll_min_ms, c->poll_max_ms);
	if (c->workers == 0 || c->pace_divisor == 0)
		return fail(err, len, "workers and pace_divisor must be >= 1");
	if (!(c->pace_start >= 0 && c->pace_start <= 1))
		return fail(err, len, "pace_start must be between 0 and 1");
	if (!(c->gc_cpu_cap > 0 && c->gc_cpu_cap <= 1) || c->gc_window_ms == 0)
		return fail(err, len,
			    "gc_cpu_cap must be above 0 and at most 1, over a "
			    "window above 0 ms");
	if (!(c->growth_ratio >= 0) || c->leak_collections > WD_LEAK_MAX)
		return fail(err, len,
			    "growth_ratio must be >= 0 and leak_collections "
			    "at most %d",
			    WD_LEAK_MAX);
	if (c->psi_window_us < 500000 || c->psi_window_us > 10000000 ||
	    c->psi_stall_us == 0 || c->psi_stall_us > c->psi_window_us)
		return fail(err, len,
			    "PSI trigger: window must be 0.5 to 10 s and the "
			    "stall above 0 and within it");
	return 0;
}

/* Check a whole configuration. */
int rcl_watchdog_config_validate(const rcl_watchdog_config *c, char *err,
				 size_t len)
{
	if (c == NULL)
		return fail(err, len, "no configuration");
	if (validate_levels(c, err, len) != 0)
		return -1;
	return validate_tuning(c, err, len);
}
