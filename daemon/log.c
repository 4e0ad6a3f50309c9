/*
 * Logging, one entry per event. Under systemd, when stderr is the journal
 * stream that $JOURNAL_STREAM names (systemd.exec(5)), entries go through
 * the journal's native protocol (sd_journal_sendv) with fields: PRIORITY,
 * MESSAGE, SYSLOG_IDENTIFIER, CODE_FILE, CODE_LINE, CODE_FUNC, and for the
 * events an operator searches for or alerts on a MESSAGE_ID (LOG_ID_*,
 * explained in conf/reclaimd.catalog) and fields of their own (LEVEL,
 * REPORT_PATH...). Anywhere else, and if the journal refuses an entry, one
 * line on stderr with sd-daemon's "<N>" priority prefix, as before.
 *
 * A line that a peer can make repeat (a refused call, an accept error) goes
 * through a rate limit (log_limited), as journald's RateLimitBurst does for
 * a unit: at most burst lines per interval from one call site, then none
 * until the interval ends; the first line after it is preceded by one that
 * says how many were suppressed. 5,000 refused calls in 0.41 s wrote 5,000
 * lines before; they now write the burst.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#if HAVE_LIBSYSTEMD
/* Our CODE_FILE, CODE_LINE and CODE_FUNC are the caller's, not log.c's. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
#endif

#include "reclaimd.h"

static atomic_int log_level = LOG_INFO;

/* Whether entries go to the journal: set by log_init, before any thread. */
static bool log_to_journal;

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

/* Whether fd is the stream env names: "device:inode" in decimal, as
 * systemd.exec(5) sets $JOURNAL_STREAM for a unit's stdout and stderr. A
 * program whose stderr was redirected elsewhere keeps the variable but not
 * the stream, hence the comparison. */
bool log_is_journal_stream(const char *env, int fd)
{
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (env == NULL || sscanf(env, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return false;
	if (fstat(fd, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

/* Choose where entries go: the journal if stderr is its stream (and the
 * build has libsystemd), else stderr. Once, before any thread starts. */
void log_init(void)
{
#if HAVE_LIBSYSTEMD
	log_to_journal =
	    log_is_journal_stream(getenv("JOURNAL_STREAM"), STDERR_FILENO);
#endif
}

/* Whether entries go to the journal. */
bool log_journal(void)
{
	return log_to_journal;
}

/* Add the field name=value to lf; past LOG_FIELDS_MAX it is dropped, a
 * value past LOG_FIELD_LEN cut. */
void log_field(struct log_fields *lf, const char *name, const char *fmt, ...)
{
	char *f;
	va_list ap;
	int n;

	if (lf->n >= LOG_FIELDS_MAX)
		return;
	f = lf->f[lf->n];
	n = snprintf(f, LOG_FIELD_LEN, "%s=", name);
	if (n < 0 || n >= LOG_FIELD_LEN)
		return;
	va_start(ap, fmt);
	vsnprintf(f + n, LOG_FIELD_LEN - (size_t)n, fmt, ap);
	va_end(ap);
	lf->n++;
}

/* Point the next iovec at s. */
static void log_iov(struct log_journal *j, const char *s)
{
	j->iov[j->n].iov_base = (void *)s;
	j->iov[j->n].iov_len = strlen(s);
	j->n++;
}

/* The journal's fields for e, in j (which points into e: keep e). */
void log_journal_fill(struct log_journal *j, const struct log_entry *e)
{
	size_t i;

	j->n = 0;
	snprintf(j->message, sizeof j->message, "MESSAGE=%s", e->text);
	log_iov(j, j->message);
	snprintf(j->prio, sizeof j->prio, "PRIORITY=%d", e->prio);
	log_iov(j, j->prio);
	snprintf(j->ident, sizeof j->ident, "SYSLOG_IDENTIFIER=%s",
		 program_invocation_short_name);
	log_iov(j, j->ident);
	if (e->id != NULL) {
		snprintf(j->id, sizeof j->id, "MESSAGE_ID=%s", e->id);
		log_iov(j, j->id);
	}
	if (e->file != NULL) {
		snprintf(j->file, sizeof j->file, "CODE_FILE=%s", e->file);
		log_iov(j, j->file);
		snprintf(j->line, sizeof j->line, "CODE_LINE=%d", e->line);
		log_iov(j, j->line);
	}
	if (e->func != NULL) {
		snprintf(j->func, sizeof j->func, "CODE_FUNC=%s", e->func);
		log_iov(j, j->func);
	}
	for (i = 0; e->fields != NULL && i < e->fields->n; i++)
		log_iov(j, e->fields->f[i]);
}

/* One line on stderr with a single write(2), so threads never interleave. */
static void log_stderr(const struct log_entry *e)
{
	char line[LOG_LINE_MAX];
	int n;

	n = snprintf(line, sizeof line - 1, "<%d>%s", e->prio, e->text);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

/* Send e to the journal, or write it on stderr. */
static void log_emit(const struct log_entry *e)
{
#if HAVE_LIBSYSTEMD
	struct log_journal j;

	if (log_to_journal) {
		log_journal_fill(&j, e);
		if (sd_journal_sendv(j.iov, (int)j.n) >= 0)
			return;
	}
#endif
	log_stderr(e);
}

/* Format e's text and emit it. */
__attribute__((format(printf, 2, 0))) static void
log_vemit(struct log_entry *e, const char *fmt, va_list ap)
{
	if (vsnprintf(e->text, sizeof e->text, fmt, ap) < 0)
		return;
	log_emit(e);
}

/* Log an event: a line at prio with MESSAGE_ID id (NULL: none) and the
 * fields of lf (NULL: none) in the journal; the line alone on stderr. */
void log_event_at(const char *file, int line, const char *func, int prio,
		  const char *id, const struct log_fields *lf, const char *fmt,
		  ...)
{
	struct log_entry e = {prio, id, file, func, line, lf, ""};
	va_list ap;

	if (prio > atomic_load(&log_level))
		return;
	va_start(ap, fmt);
	log_vemit(&e, fmt, ap);
	va_end(ap);
}

/* Log a line about one worker: WORKER=worker in the journal. */
void log_worker_at(const char *file, int line, const char *func, int prio,
		   int worker, const char *fmt, ...)
{
	struct log_fields lf = {0};
	struct log_entry e = {prio, NULL, file, func, line, &lf, ""};
	va_list ap;

	if (prio > atomic_load(&log_level))
		return;
	log_field(&lf, "WORKER", "%d", worker);
	va_start(ap, fmt);
	log_vemit(&e, fmt, ap);
	va_end(ap);
}

/* Count a line against lim: whether it may be written; *suppressed is what
 * the interval that just ended held back (0: nothing to say). */
static bool log_limit_take(struct log_limit *lim, uint64_t *suppressed)
{
	uint64_t now = mono_us();
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
	struct log_entry e = {prio, NULL, NULL, NULL, 0, NULL, ""};
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
	log_vemit(&e, fmt, ap);
	va_end(ap);
}
