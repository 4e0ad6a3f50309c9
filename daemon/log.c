/*
 * Logging to stderr, one line per event, with sd-daemon's "<N>" priority
 * prefix so that journald files each line at the right level.
 *
 * A line that a peer can make repeat (a refused call, an accept error) goes
 * through a rate limit (log_limited), as journald's RateLimitBurst does for
 * a unit: at most burst lines per interval from one call site, then none
 * until the interval ends; the first line after it is preceded by one that
 * says how many were suppressed. 5,000 refused calls in 0.41 s wrote 5,000
 * lines before; they now write the burst.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "reclaimd.h"

static atomic_int log_level = LOG_INFO;

/* Guards every struct log_limit: taken only for lines that are limited. */
static pthread_mutex_t log_limit_lock = PTHREAD_MUTEX_INITIALIZER;

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
__attribute__((format(printf, 2, 0))) static void
log_vmsg(int prio, const char *fmt, va_list ap)
{
	char line[1024];
	int n, m;

	n = snprintf(line, sizeof line, "<%d>", prio);
	m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

/* Log one line at prio. */
void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio > atomic_load(&log_level))
		return;
	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}

/* Monotonic microseconds (log.c stands alone: no server needed). */
static uint64_t log_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Count a line against lim: whether it may be written; *suppressed is what
 * the interval that just ended held back (0: nothing to say). */
static bool log_limit_take(struct log_limit *lim, uint64_t *suppressed)
{
	uint64_t now = log_now_us();
	bool ok;

	pthread_mutex_lock(&log_limit_lock);
	*suppressed = 0;
	if (lim->lines == 0 || now - lim->start_us >= lim->interval_us) {
		*suppressed = lim->suppressed;
		lim->start_us = now;
		lim->lines = 0;
		lim->suppressed = 0;
	}
	ok = lim->lines < lim->burst;
	if (ok)
		lim->lines++;
	else
		lim->suppressed++;
	pthread_mutex_unlock(&log_limit_lock);
	return ok;
}

/* Log one line at prio unless lim's burst for this interval is spent. */
void log_limited(struct log_limit *lim, int prio, const char *fmt, ...)
{
	uint64_t suppressed;
	va_list ap;

	if (prio > atomic_load(&log_level) || !log_limit_take(lim, &suppressed))
		return;
	if (suppressed > 0)
		log_msg(prio, "log: suppressed %llu lines like \"%s\" (more "
			      "than %u in %llu s)",
			(unsigned long long)suppressed, fmt, lim->burst,
			(unsigned long long)(lim->interval_us / 1000000));
	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}
