/* The log (daemon/log.c): the rate limit (the burst, then silence, then one
 * line saying how many were suppressed; stderr read back through a pipe);
 * an entry's journal fields; the journal's stream told from another file. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "reclaimd.h"
#include "unit.h"

/* What the code under test wrote to stderr, as a string. */
static char *capture(void (*fn)(void))
{
	static char buf[8192];
	int p[2], saved = dup(STDERR_FILENO);
	ssize_t n;

	assert_int_equal(pipe(p), 0);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = read(p[0], buf, sizeof buf - 1);
	close(p[0]);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* Lines of s holding word. */
static int count(const char *s, const char *word)
{
	int n = 0;

	for (; (s = strstr(s, word)) != NULL; s++)
		n++;
	return n;
}

static struct log_limit lim = {1000, 3, 0, 0, 0}; /* 3 lines a ms */

/* Five lines in a burst of three. */
static void five(void)
{
	int i;

	for (i = 0; i < 5; i++)
		log_limited(&lim, LOG_NOTICE, "refused %d", i);
}

/* After the interval: one line, preceded by the count held back. */
static void one_later(void)
{
	struct timespec ts = {0, 2000000}; /* 2 ms, past the 1 ms interval */

	nanosleep(&ts, NULL);
	log_limited(&lim, LOG_NOTICE, "refused %d", 5);
}

/* The burst passes, the rest is counted, then said once. */
static void test_burst(void **state)
{
	char *out;

	(void)state;
	out = capture(five);
	assert_int_equal(count(out, "refused "), 3);
	assert_non_null(strstr(out, "<5>refused 0\n<5>refused 1\n"));
	out = capture(one_later);
	assert_non_null(strstr(out, "<5>log: suppressed 2 lines like "
				    "\"refused %d\""));
	assert_non_null(strstr(out, "\n<5>refused 5\n"));
}

/* Below the level: neither written nor counted. */
static void test_level(void **state)
{
	struct log_limit quiet = LOG_LIMIT_INIT;

	(void)state;
	log_set_level(LOG_WARNING);
	log_limited(&quiet, LOG_INFO, "hidden");
	assert_int_equal(quiet.lines, 0);
	log_set_level(LOG_INFO);
}

/* Whether iov holds the field "want" exactly. */
static bool has(const struct log_journal *j, const char *want)
{
	size_t i;

	for (i = 0; i < j->n; i++) {
		if (j->iov[i].iov_len == strlen(want) &&
		    memcmp(j->iov[i].iov_base, want, strlen(want)) == 0)
			return true;
	}
	return false;
}

/* An event's entry: the common fields, its MESSAGE_ID, its own fields. */
static void test_journal_fields(void **state)
{
	struct log_fields lf = {0};
	struct log_entry e = {LOG_WARNING, LOG_ID_REPORT, "daemon/report.c",
			      "report_log", 42, &lf, "near-limit report"};
	struct log_journal j;

	(void)state;
	log_field(&lf, "REPORT_PATH", "%s/%s", "/var/lib/reclaim", "r.json");
	log_field(&lf, "LEVEL", "%s", "critical");
	log_journal_fill(&j, &e);
	assert_int_equal(j.n, 9);
	assert_true(has(&j, "MESSAGE=near-limit report"));
	assert_true(has(&j, "PRIORITY=4"));
	assert_true(has(&j, "SYSLOG_IDENTIFIER=test-log"));
	assert_true(has(&j, "MESSAGE_ID=3d393e35b8f14b9d86070ab70ec9be91"));
	assert_true(has(&j, "CODE_FILE=daemon/report.c"));
	assert_true(has(&j, "CODE_LINE=42"));
	assert_true(has(&j, "CODE_FUNC=report_log"));
	assert_true(has(&j, "REPORT_PATH=/var/lib/reclaim/r.json"));
	assert_true(has(&j, "LEVEL=critical"));
}

/* A plain line: no MESSAGE_ID, no fields; a location only if known. */
static void test_journal_plain(void **state)
{
	struct log_entry e = {LOG_INFO, NULL, NULL, NULL, 0, NULL, "ready"};
	struct log_journal j;

	(void)state;
	log_journal_fill(&j, &e);
	assert_int_equal(j.n, 3);
	assert_true(has(&j, "MESSAGE=ready"));
	assert_true(has(&j, "PRIORITY=6"));
}

/* Past LOG_FIELDS_MAX, fields are dropped; a long value is cut. */
static void test_fields_bounded(void **state)
{
	struct log_fields lf = {0};
	char big[2 * LOG_FIELD_LEN];
	int i;

	(void)state;
	for (i = 0; i < LOG_FIELDS_MAX + 3; i++)
		log_field(&lf, "N", "%d", i);
	assert_int_equal(lf.n, LOG_FIELDS_MAX);
	lf.n = 0;
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	log_field(&lf, "BIG", "%s", big);
	assert_int_equal(strlen(lf.f[0]), LOG_FIELD_LEN - 1);
	assert_memory_equal(lf.f[0], "BIG=xxx", 7);
}

/* $JOURNAL_STREAM names stderr by device:inode; anything else is not. */
static void test_journal_stream(void **state)
{
	char env[64];
	struct stat st;
	int fd = open("/dev/null", O_WRONLY);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	snprintf(env, sizeof env, "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	assert_true(log_is_journal_stream(env, fd));
	snprintf(env, sizeof env, "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	assert_false(log_is_journal_stream(env, fd));
	assert_false(log_is_journal_stream(NULL, fd));
	assert_false(log_is_journal_stream("", fd));
	assert_false(log_is_journal_stream("12", fd));
	assert_false(log_is_journal_stream("1:2:3", fd));
	close(fd);
}

/* An event or a worker's line outside the journal: the same "<N>" line as
 * any other. */
static void event_line(void)
{
	struct log_fields lf = {0};

	log_field(&lf, "REPORT_PATH", "/x");
	log_event(LOG_WARNING, LOG_ID_REPORT, &lf, "report %d", 7);
	log_worker(LOG_INFO, 3, "worker %d: %s", 3, "stopped");
	log_worker(LOG_DEBUG, 3, "below the level");
}

static void test_event_stderr(void **state)
{
	(void)state;
	assert_false(log_journal()); /* log_init() not called: stderr */
	assert_string_equal(capture(event_line),
			    "<4>report 7\n<6>worker 3: stopped\n");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst),
	    cmocka_unit_test(test_level),
	    cmocka_unit_test(test_journal_fields),
	    cmocka_unit_test(test_journal_plain),
	    cmocka_unit_test(test_fields_bounded),
	    cmocka_unit_test(test_journal_stream),
	    cmocka_unit_test(test_event_stderr),
	};

	return unit_run(argc, argv, tests);
}
