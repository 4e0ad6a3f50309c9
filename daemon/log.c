/*
 * Logging to stderr, one line per event, with sd-daemon's "<N>" priority
 * prefix so that journald files each line at the right level.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "reclaimd.h"

static atomic_int log_level = LOG_INFO;

static const char *const log_names[] = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

/* Log only messages at least as important as level. */
void log_set_level(int level)
{
	atomic_store(&log_level, level);
}

/* A level's number from its name ("info", "warning"...), or -1. */
int log_level_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof log_names / sizeof log_names[0]; i++) {
		if (strcasecmp(name, log_names[i]) == 0)
			return (int)i;
	}
	if (strcasecmp(name, "error") == 0)
		return LOG_ERR;
	if (strcasecmp(name, "warn") == 0)
		return LOG_WARNING;
	return -1;
}

/* Write one line with a single write(2), so threads never interleave. */
void log_msg(int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n, m;

	if (prio > atomic_load(&log_level))
		return;
	n = snprintf(line, sizeof line, "<%d>", prio);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
